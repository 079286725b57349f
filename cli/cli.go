package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/secgpt-go/secgpt/adapters/stdin"
	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/config"
)

const usage = `secgpt: an LLM assistant whose apps run isolated (SecGPT / IsolateGPT in Go)

Usage:
  secgpt [global flags] [command] [command flags]

Commands:
  chat        chat in the terminal (the default)
  slack       run as a Slack app over Socket Mode
  matrix      run as a Matrix bot [--setup-cross-signing]
  eval        run the evaluation: "eval case-studies [--json]", "eval relational [--json] [--runs N] [--grants once|always|both] [--model-latency D[±J]]" or "eval invariants [--episodes N] [--from N] [--seed S] [--episode N] [--parallel P] [--progress N] [--spokes sandbox|inprocess] [--replicas N --store redis [--redis-url URL]] [--json]"
  doctor      report which sandbox protections are active here [--json]
  audit       read the audit log [--user U] [--app A] [--kind K] [--type T] [--since D] [--until T] [--limit N] [--json]
  config      print the effective configuration as YAML (secrets masked)
  healthcheck ask this host's listener (server.listen) for /healthz, or /readyz with --ready; exit 0 if healthy
  mcp         "mcp add PACKAGE[@VERSION] [-- ARGS]": install an npm MCP server, pinned, and add it;
              "mcp import [--print] FILE": add the servers of a Claude Desktop, Claude Code or VS Code config;
              "mcp pins" / "mcp approve SERVER": servers' approved tools and changes waiting for approval
  version     print the version, Go version and source revision
  help        show this help; "secgpt COMMAND --help" shows one command's

Global flags may also follow the command (secgpt chat --user bob).

Global flags:
`

type globals struct {
	configPath string
	vanilla    bool
	logLevel   string
	logFormat  string
	user       string
}

// Main runs the secgpt command with the process's arguments and standard
// streams until it ends or the process is interrupted, and returns its exit
// code. The binary must have registered its apps (apps/standard, the MCP
// app) first, and have served a spoke instead when sandbox.IsChild().
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

func run(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	fs := flag.NewFlagSet("secgpt", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var g globals
	fs.StringVar(&g.configPath, "config", os.Getenv("SECGPT_CONFIG"), "YAML config `file` (env SECGPT_CONFIG); without one, embedded defaults")
	fs.BoolVar(&g.vanilla, "vanilla", false, "run VanillaGPT, the non-isolated baseline, instead of the hub (unsafe; for comparison)")
	fs.StringVar(&g.logLevel, "log-level", "", "log level: debug, info, warn, error (overrides log.level)")
	fs.StringVar(&g.logFormat, "log-format", "", "log format on stderr: text or json (overrides log.format; json turns every stderr line into JSON)")
	fs.StringVar(&g.user, "user", os.Getenv("USER"), "terminal user `name` (chat only; the SecGPT user is terminal:NAME)")
	fs.Usage = func() {
		fmt.Fprint(errOut, usage)
		fs.PrintDefaults()
		fmt.Fprintln(errOut, "\nConfiguration keys and environment variables are listed in README.md.")
	}
	if os.Getenv("SECGPT_LOG_FORMAT") == "json" {
		// Known before the config is read, so even its errors are JSON.
		jl := newJSONLines(errOut)
		defer jl.Flush()
		errOut = jl
		fs.SetOutput(errOut)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cmd, rest := "chat", fs.Args()
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		if wantsHelp(rest) {
			rest = []string{"help"}
		}
		if len(rest) > 0 && printCommandHelp(out, rest[0]) {
			return 0
		}
		fs.Usage()
		return 0
	}
	if wantsHelp(rest) {
		if !printCommandHelp(out, cmd) {
			fmt.Fprintf(errOut, "secgpt: unknown command %q (see secgpt help)\n", cmd)
			return 2
		}
		return 0
	}
	if cmd == "version" {
		return runVersion(out)
	}
	// Global flags after the command are parsed as if they came first.
	var lifted []string
	lifted, rest = liftGlobals(rest, map[string]bool{"user": cmd == "audit"})
	if len(lifted) > 0 {
		if err := fs.Parse(lifted); err != nil {
			return 2
		}
	}
	cfg, err := config.Load(g.configPath, nil)
	if err != nil {
		fmt.Fprintln(errOut, "secgpt:", err)
		return 2
	}
	if g.logLevel != "" || g.logFormat != "" {
		if g.logLevel != "" {
			cfg.Log.Level = g.logLevel
		}
		if g.logFormat != "" {
			cfg.Log.Format = g.logFormat
		}
		if err := cfg.Validate(); err != nil {
			fmt.Fprintln(errOut, "secgpt: --log-level/--log-format:", err)
			return 2
		}
	}
	if _, already := errOut.(*jsonLines); cfg.Log.Format == "json" && !already {
		jl := newJSONLines(errOut)
		defer jl.Flush()
		errOut = jl
	}
	if g.vanilla {
		cfg.Hub.Vanilla = true
	}
	log := newLogger(cfg.Log, errOut)
	switch cmd {
	case "chat":
		return runChat(ctx, cfg, g, in, out, errOut, log)
	case "slack":
		return runSlack(ctx, cfg, rest, errOut, log)
	case "matrix":
		return runMatrix(ctx, cfg, rest, out, errOut, log)
	case "eval":
		exe, desc, err := spokeBinary(ctx, cfg.Sandbox.SpokeBinary, apps.Registered(), log)
		if err != nil {
			fmt.Fprintln(errOut, "secgpt eval:", err)
			return 1
		}
		local, localApps, localDesc := localSpokeBinary(ctx, exe, apps.Registered(), log)
		log.Debug("eval spokes", "binary", desc+localDesc)
		return runEval(ctx, evalSandbox{off: cfg.Sandbox.Mode == "off", exe: exe, local: local, localApps: localApps}, rest, out, errOut)
	case "doctor":
		return runDoctor(ctx, cfg, rest, out, errOut, log)
	case "audit":
		return runAudit(ctx, cfg, rest, out, errOut, log)
	case "config":
		return printConfig(cfg, out, errOut)
	case "healthcheck":
		return runHealthcheck(ctx, cfg, rest, out, errOut)
	case "mcp":
		if isMCPPins(rest) {
			return runMCPPins(ctx, cfg, rest, out, errOut)
		}
		return runMCP(ctx, cfg, rest, out, errOut)
	}
	fmt.Fprintf(errOut, "secgpt: unknown command %q (see secgpt help)\n", cmd)
	return 2
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lv}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runChat(ctx context.Context, cfg config.Config, g globals, in io.Reader, out, errOut io.Writer, _ *slog.Logger) int {
	log, logPath, closeLog, err := chatLogger(cfg, in, out, errOut)
	if err != nil {
		fmt.Fprintln(errOut, "secgpt:", err)
		return 1
	}
	defer closeLog()
	// MCP servers take seconds each to start: say so on the terminal.
	d, err := buildWith(ctx, cfg, log, buildOptions{progress: out})
	if err != nil {
		fmt.Fprintln(errOut, "secgpt:", err)
		return 1
	}
	defer d.Close()
	fmt.Fprint(out, d.Banner())
	if logPath != "" {
		fmt.Fprintf(out, "  log:     %s\n", logPath)
	}
	fmt.Fprintln(out, `Type a request ("hi" for an introduction, "!help" for commands); "!quit" or Ctrl-D to leave.`)
	opts := stdin.Options{}
	if ed := chatEditor(cfg, in, out, log); ed != nil {
		defer ed.Close()
		opts.Lines, opts.Styled, out = ed, true, ed.Stdout()
	}
	// The terminal has no /readyz check: its one user is at the keyboard.
	t := terminal{Adapter: stdin.NewWithOptions(in, out, g.user, opts), assistant: d.Assistant}
	if err := d.serve(ctx, "", t); err != nil {
		fmt.Fprintln(errOut, "secgpt:", err)
		return 1
	}
	return 0
}

// printConfig prints the effective configuration as YAML, every secret
// masked (config.Masked): the output is a valid config file.
func printConfig(cfg config.Config, out, errOut io.Writer) int {
	b, err := cfg.YAML()
	if err != nil {
		fmt.Fprintln(errOut, "secgpt config:", err)
		return 1
	}
	_, _ = out.Write(b)
	return 0
}
