package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/secgpt-go/secgpt/ops/auditcli"
)

// commandHelp is what `secgpt COMMAND --help` prints, by command. Each
// text starts with the command's usage line; global flags may follow the
// command too (secgpt chat --user bob).
func commandHelp(cmd string) (string, bool) {
	h, ok := map[string]string{
		"chat": `usage: secgpt [global flags] chat

Chat in the terminal as the local user (terminal:NAME, set with --user).
On a terminal the input line can be edited and is kept in a history; a
line over 1 MiB (typed, pasted or piped) is refused. Type "hi" for an
introduction, "!help" for commands, "!quit" or Ctrl-D to leave.
This is the default command.`,
		"slack": `usage: secgpt [global flags] slack

Run as a Slack app over Socket Mode. Needs slack.bot_token (SLACK_BOT_TOKEN)
and slack.app_token (SLACK_APP_TOKEN); see docs/slack.md.`,
		"matrix": `usage: secgpt [global flags] matrix [--setup-cross-signing]

Run as a Matrix bot. Needs matrix.homeserver and matrix.user_id with a
password or access token; see docs/matrix.md.

flags:
  --setup-cross-signing   once per bot account: create cross-signing keys,
                          sign the bot's device, store them in secret
                          storage, print the recovery key and exit`,
		"eval": `usage: secgpt eval case-studies [--json]
       secgpt eval relational [--json] [--runs N] [--grants once|always|both] [--model-latency D[±J]]
       secgpt eval invariants [--episodes N] [--from N] [--seed S] [--episode N] [--parallel P] [--progress N] [--json]

Run the evaluation: the case studies under the adversarial model, the
relational-data benchmark (overhead of isolation), or randomized
adversarial episodes checked against the threat model's invariants.
See docs/invariants.md.`,
		"doctor": `usage: secgpt [global flags] doctor [--json]

Report which sandbox protections are active on this host (seccomp,
namespaces, landlock, rlimits) and what is missing.

flags:
  --json   print the report as JSON`,
		"config": `usage: secgpt [global flags] config

Print the effective configuration (file, environment and defaults) as
YAML, every secret masked; the output is a valid config file.`,
		"healthcheck": `usage: secgpt [global flags] healthcheck [--ready] [--timeout D]

Ask this host's listener (server.listen) for /healthz, or /readyz with
--ready; exit 0 only when it answers 200 (the image's HEALTHCHECK).

flags:
  --ready       check /readyz (store and platform connected)
  --timeout D   give up after D (default 3s)`,
		"mcp": `usage: secgpt mcp add [--name N] [--write] [--env K=V] [--secret K] [--trust-annotations] [--force] [--no-names] PACKAGE[@VERSION] [-- ARGS]
       secgpt mcp import [--print] [--force] [--no-names] FILE
       secgpt mcp pins
       secgpt mcp approve SERVER

add      install an npm MCP server, pinned (lockfile integrity, no install
         scripts), into mcp.install_dir and write its entry there
import   add the servers of a Claude Desktop, Claude Code or VS Code config
         like add (--print prints the mcp: section instead); secrets are
         never copied
pins     each MCP server's approved tools, their aliases, and changes
         waiting for approval
approve  approve SERVER's changed and new tools (restart the bot to use
         them; with the bolt store, stop the bot first)

See docs/apps.md.`,
		"version": `usage: secgpt version

Print the version, the Go version and the source revision this binary was
built from.`,
		"help": `usage: secgpt help [COMMAND]

Show the list of commands, or one command's help.`,
	}[cmd]
	return h, ok
}

// printCommandHelp writes cmd's help to w and reports whether cmd is a
// command.
func printCommandHelp(w io.Writer, cmd string) bool {
	if cmd == "audit" {
		// The audit flags are defined in one place, auditcli.Parse, whose
		// usage is its help.
		_, _ = auditcli.Parse([]string{"-h"}, time.Now(), w)
		return true
	}
	h, ok := commandHelp(cmd)
	if !ok {
		return false
	}
	fmt.Fprintln(w, h)
	if cmd != "eval" && cmd != "mcp" && cmd != "help" && cmd != "version" {
		fmt.Fprintln(w, "\nGlobal flags (before or after the command): --config FILE, --user NAME, --vanilla, --log-level L, --log-format F; see secgpt help.")
	}
	return true
}

// wantsHelp reports whether args (a command's arguments) ask for help:
// -h, -help or --help before a "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// globalFlags are the flags run's FlagSet defines, and whether each takes
// a value, for liftGlobals.
func globalFlags() map[string]bool {
	return map[string]bool{"config": true, "vanilla": false, "log-level": true, "log-format": true, "user": true}
}

// liftGlobals moves the global flags that follow the command in args (up
// to a "--") to the front, so that `secgpt chat --user bob` means what
// `secgpt --user bob chat` does. own names the command's flags that share
// a global flag's name (audit's --user), which stay with the command.
func liftGlobals(args []string, own map[string]bool) (globals, rest []string) {
	known := globalFlags()
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return globals, append(rest, args[i:]...)
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takesValue, isGlobal := known[name]
		if !strings.HasPrefix(a, "-") || a == "-" || !isGlobal || own[name] {
			rest = append(rest, a)
			continue
		}
		globals = append(globals, a)
		if takesValue && !hasValue && i+1 < len(args) {
			i++
			globals = append(globals, args[i])
		}
	}
	return globals, rest
}
