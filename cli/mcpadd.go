package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/secgpt-go/secgpt/apps/mcp/entry"
	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/internal/atomicfile"
)

// mcpAddUsage is the help of `secgpt mcp add`.
const mcpAddUsage = `usage: secgpt mcp add [flags] PACKAGE[@VERSION] [-- ARGS...]

Installs an npm MCP server, pinned, into mcp.install_dir/<name>/ and writes
its entry mcp.install_dir/<name>.yaml, which the bot reads as
mcp.servers.<name>. ARGS are the server's own arguments: an absolute path
among them is mounted for the server (read-only unless --write), and
${SECGPT_DATA} is the user's own data directory.

Flags:
`

// addOptions are the flags of `secgpt mcp add`.
type addOptions struct {
	name    string
	write   bool
	force   bool
	trust   bool
	noNames bool
	env     multiFlag
	secrets multiFlag
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// runMCPAdd serves `secgpt mcp add`.
func runMCPAdd(ctx context.Context, cfg config.Config, args []string, out, errOut io.Writer) int {
	var o addOptions
	fs := flag.NewFlagSet("secgpt mcp add", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&o.name, "name", "", "the server's `name` (the app mcp.NAME); default: from the package name")
	fs.BoolVar(&o.write, "write", false, "mount the directories named in ARGS writable (default read-only)")
	fs.BoolVar(&o.force, "force", false, "replace an entry of the same name")
	fs.BoolVar(&o.noNames, "no-names", false, "do not list the server's tools to name them for the planner by their own names (it then sees t1, t2, …)")
	fs.BoolVar(&o.trust, "trust-annotations", false, "let the server's tool annotations decide each tool's effect (read, write, ...)")
	fs.Var(&o.env, "env", "`NAME=VALUE` in the server's environment (repeatable; ${SECGPT_DATA} allowed)")
	fs.Var(&o.secrets, "secret", "`NAME`: the server's environment variable NAME, read from the bot's variable of the same name at start (repeatable)")
	fs.Usage = func() {
		fmt.Fprint(errOut, mcpAddUsage)
		fs.PrintDefaults()
	}
	own, serverArgs := args, []string(nil)
	if i := indexOf(args, "--"); i >= 0 {
		own, serverArgs = args[:i], args[i+1:]
	}
	// Flags may come before or after the package.
	var pos []string
	for {
		if err := fs.Parse(own); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		own = fs.Args()[1:]
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	rep, err := mcpAdd(ctx, cfg, pos[0], serverArgs, o, errOut)
	if err != nil {
		fmt.Fprintln(errOut, "secgpt: mcp add:", err)
		return 1
	}
	_, _ = io.WriteString(out, rep)
	return 0
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

var (
	npmNameRE    = regexp.MustCompile(`^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$`)
	npmVersionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+~^<>=*-]*$`)
)

// splitPackage splits "PACKAGE[@VERSION]" and checks both parts: a
// version may not be a path, URL or git reference, so what npm installs
// is a registry package.
func splitPackage(spec string) (pkg, version string, err error) {
	pkg = spec
	if i := strings.LastIndex(spec, "@"); i > 0 {
		pkg, version = spec[:i], spec[i+1:]
		if !npmVersionRE.MatchString(version) {
			return "", "", fmt.Errorf("version %q: use a registry version or range (1.2.3, ^1.2)", version)
		}
	}
	if !npmNameRE.MatchString(pkg) {
		return "", "", fmt.Errorf("%q is not an npm package name (a registry package: NAME or @SCOPE/NAME)", pkg)
	}
	return pkg, version, nil
}

// serverName derives a server name from a package name:
// "@modelcontextprotocol/server-memory" is "memory".
func serverName(pkg string) string {
	n := pkg[strings.LastIndex(pkg, "/")+1:]
	for _, p := range []string{"mcp-server-", "server-", "mcp-"} {
		n = strings.TrimPrefix(n, p)
	}
	n = strings.TrimSuffix(strings.TrimSuffix(n, "-mcp-server"), "-mcp")
	n = strings.Trim(badNameChar.ReplaceAllString(strings.ToLower(n), "-"), "-")
	if len(n) > 41 {
		n = n[:41]
	}
	if n == "" {
		n = "server"
	}
	return n
}

// installed is what npm installed, from its lockfile.
type installed struct {
	Version   string
	Integrity string
	Entry     string // the bin's absolute path
}

// npmInstall installs spec into the npm prefix dir, pinned (--save-exact,
// so package.json and the lockfile name one version and its integrity),
// without running any package's install scripts (they would run on the
// host, outside every sandbox), and reads what it installed.
func npmInstall(ctx context.Context, dir, pkg, version string, progress io.Writer) (installed, error) {
	var in installed
	npm, err := exec.LookPath("npm")
	if err != nil {
		return in, fmt.Errorf("npm not found (install Node.js and npm): %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return in, err
	}
	if _, err := os.Stat(filepath.Join(dir, "package.json")); errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"secgpt-mcp-server","private":true}`+"\n"), 0o644); err != nil {
			return in, err
		}
	}
	spec := pkg
	if version != "" {
		spec += "@" + version
	}
	cmd := exec.CommandContext(ctx, npm, "install", "--prefix", dir, "--save-exact", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund", spec)
	cmd.Stdout, cmd.Stderr = progress, progress
	if err := cmd.Run(); err != nil {
		return in, fmt.Errorf("npm install %s: %w", spec, err)
	}
	var lock struct {
		Packages map[string]struct {
			Version   string `json:"version"`
			Integrity string `json:"integrity"`
		} `json:"packages"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return in, fmt.Errorf("read the lockfile: %w", err)
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return in, fmt.Errorf("read the lockfile: %w", err)
	}
	p, ok := lock.Packages["node_modules/"+pkg]
	if !ok || p.Integrity == "" {
		return in, fmt.Errorf("the lockfile has no integrity for %s", pkg)
	}
	in.Version, in.Integrity = p.Version, p.Integrity
	in.Entry, err = binEntry(filepath.Join(dir, "node_modules", pkg), pkg)
	return in, err
}

// binEntry is the absolute path of the package's program: its "bin" (the
// only one, or the one named like the package).
func binEntry(pkgDir, pkg string) (string, error) {
	var pj struct {
		Bin json.RawMessage `json:"bin"`
	}
	b, err := os.ReadFile(filepath.Join(pkgDir, "package.json"))
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(b, &pj); err != nil {
		return "", fmt.Errorf("%s's package.json: %w", pkg, err)
	}
	var rel string
	var one string
	var many map[string]string
	switch {
	case json.Unmarshal(pj.Bin, &one) == nil && one != "":
		rel = one
	case json.Unmarshal(pj.Bin, &many) == nil && len(many) > 0:
		short := pkg[strings.LastIndex(pkg, "/")+1:]
		names := slices.Sorted(maps.Keys(many))
		switch {
		case len(many) == 1:
			rel = many[names[0]]
		case many[short] != "":
			rel = many[short]
		default:
			return "", fmt.Errorf("%s has several programs (%s) and none is named %s", pkg, strings.Join(names, ", "), short)
		}
	default:
		return "", fmt.Errorf("%s has no program (no \"bin\" in its package.json): it is not a runnable server", pkg)
	}
	entry := filepath.Join(pkgDir, filepath.Clean("/" + rel)[1:])
	if _, err := os.Stat(entry); err != nil {
		return "", fmt.Errorf("%s's program: %w", pkg, err)
	}
	return entry, nil
}

// interpreter is the program that runs entry: node for JavaScript, python3
// for Python, from the first line or the file name.
func interpreter(entry string) (string, error) {
	want := "node"
	f, err := os.Open(entry)
	if err == nil {
		line, _ := bufio.NewReader(io.LimitReader(f, 256)).ReadString('\n')
		f.Close()
		if strings.HasPrefix(line, "#!") && strings.Contains(line, "python") || strings.HasSuffix(entry, ".py") {
			want = "python3"
		}
	}
	p, err := exec.LookPath(want)
	if err != nil {
		return "", fmt.Errorf("%s not found: %w", want, err)
	}
	return filepath.Abs(p)
}

// documentedEnv are the environment variables a package's README shows in
// an "env" block, with the example value, in the order shown.
func documentedEnv(readme []byte) [][2]string {
	var out [][2]string
	seen := map[string]bool{}
	for _, blk := range envBlockRE.FindAll(readme, 20) {
		for _, m := range envPairRE.FindAllSubmatch(blk, 20) {
			k := string(m[1])
			if !seen[k] {
				seen[k] = true
				out = append(out, [2]string{k, string(m[2])})
			}
		}
	}
	return out
}

var (
	envBlockRE = regexp.MustCompile(`"env"\s*:\s*\{[^}]*\}`)
	envPairRE  = regexp.MustCompile(`"([A-Z][A-Z0-9_]{1,63})"\s*:\s*"([^"\n]{0,200})"`)
	pathVarRE  = regexp.MustCompile(`(_PATH|_FILE|_DIR|_DIRECTORY)$`)
	safeBase   = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
)

// entryFor builds the server's config entry and the report lines: the
// program and its interpreter, ARGS with their paths mounted, the
// environment from the flags, and the variables the server documents.
func entryFor(entry, interp string, serverArgs []string, o addOptions, readme []byte) (config.MCPServer, []string, error) {
	s := config.MCPServer{Command: interp, Args: append([]string{entry}, serverArgs...), TrustAnnotations: o.trust}
	var notes []string
	for _, a := range serverArgs {
		switch {
		case strings.Contains(a, mcpDataVar):
			s.Data = true
		case filepath.IsAbs(a):
			fi, err := os.Stat(a)
			if err != nil {
				return s, nil, fmt.Errorf("argument %s: %w", a, err)
			}
			s.Files = append(s.Files, config.File{Path: filepath.Clean(a), Write: o.write})
			mode := "read-only"
			if o.write {
				mode = "writable"
			}
			kind := "file"
			if fi.IsDir() {
				kind = "directory"
			}
			notes = append(notes, fmt.Sprintf("the %s %s is mounted for the server, %s (--write to change)", kind, a, mode))
		}
	}
	given := map[string]bool{}
	for _, kv := range o.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !envNameOK(k) {
			return s, nil, fmt.Errorf("--env %q: want NAME=VALUE", kv)
		}
		if s.Env == nil {
			s.Env = map[string]string{}
		}
		s.Env[k] = v
		given[k] = true
		if strings.Contains(v, mcpDataVar) {
			s.Data = true
		}
	}
	for _, k := range o.secrets {
		if !envNameOK(k) {
			return s, nil, fmt.Errorf("--secret %q: want an environment variable name", k)
		}
		if s.Secrets == nil {
			s.Secrets = map[string]config.Secret{}
		}
		s.Secrets[k] = config.Secret{Env: k}
		given[k] = true
		notes = append(notes, fmt.Sprintf("set %s in the bot's environment: the server gets it as %s", k, k))
	}
	for _, kv := range documentedEnv(readme) {
		k, example := kv[0], kv[1]
		switch {
		case given[k]:
		case reservedEnv(k):
			notes = append(notes, fmt.Sprintf("the server documents %s, which SecGPT does not set from a README (it changes how the interpreter or the sandbox behaves)", k))
		case secretName.MatchString(k):
			// Never taken from the README by itself: the bot's environment
			// holds its own keys, and a package could name one of them.
			notes = append(notes, fmt.Sprintf("the server documents %s (a secret): to give it one, run again with --force --secret %s and set %s in the bot's environment", k, k, k))
		case pathVarRE.MatchString(k) && strings.Contains(example, "/"):
			base := safeBase.ReplaceAllString(filepath.Base(example), "_")
			if base == "" || base == "." || base == "_" {
				base = strings.ToLower(k)
			}
			if s.Env == nil {
				s.Env = map[string]string{}
			}
			s.Env[k] = mcpDataVar + "/" + base
			s.Data = true
			notes = append(notes, fmt.Sprintf("the server documents %s: set to %s, in each user's own data directory", k, s.Env[k]))
		default:
			notes = append(notes, fmt.Sprintf("the server documents %s (e.g. %q); not set (--env %s=VALUE to set it)", k, clip(example, 60), k))
		}
	}
	return s, notes, nil
}

// reservedEnv reports whether a documented variable is one a README must
// not set: the interpreter's and the loader's, and the sandbox's own.
func reservedEnv(k string) bool {
	switch k {
	case "PATH", "HOME", "TMPDIR", "LANG", "NODE_PATH", "NODE_OPTIONS", "NODE_EXTRA_CA_CERTS", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME":
		return true
	}
	return strings.HasPrefix(k, "LD_") || strings.HasPrefix(k, "SECGPT_") || strings.HasPrefix(k, "NPM_CONFIG_")
}

// mcpDataVar is the per-user data directory as written in args and env.
const mcpDataVar = "${SECGPT_DATA}"

func envNameOK(k string) bool { return entry.CheckEnvName(k) == nil }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// mcpAdd installs the package and writes the entry; it returns the report.
func mcpAdd(ctx context.Context, cfg config.Config, spec string, serverArgs []string, o addOptions, progress io.Writer) (string, error) {
	pkg, version, err := splitPackage(spec)
	if err != nil {
		return "", err
	}
	name := o.name
	if name == "" {
		name = serverName(pkg)
	}
	if !mcpNameOK(name) {
		return "", fmt.Errorf("name %q: use lowercase letters, digits, - and _ (at most 41)", name)
	}
	root := cfg.MCPInstallDir()
	entryPath := filepath.Join(root, name+".yaml")
	if _, err := os.Stat(entryPath); err == nil && !o.force {
		return "", fmt.Errorf("%s exists: the server %s is already added (--force replaces it, --name adds another)", entryPath, name)
	}
	if _, dup := cfg.MCP.Servers[name]; dup && !o.force {
		if _, err := os.Stat(entryPath); err != nil {
			return "", fmt.Errorf("the config file already has a server %s (--name adds this one under another name)", name)
		}
	}
	in, err := npmInstall(ctx, filepath.Join(root, name), pkg, version, progress)
	if err != nil {
		return "", err
	}
	interp, err := interpreter(in.Entry)
	if err != nil {
		return "", err
	}
	readme, _ := os.ReadFile(filepath.Join(root, name, "node_modules", pkg, "README.md"))
	s, notes, err := entryFor(in.Entry, interp, serverArgs, o, readme)
	if err != nil {
		return "", err
	}
	if !o.noNames {
		notes = append(notes, nameServer(ctx, cfg, name, &s, progress)...)
	}
	if err := writeEntry(entryPath, s, fmt.Sprintf("%s@%s, integrity %s", pkg, in.Version, in.Integrity)); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Installed %s@%s (integrity %s) into %s\n", pkg, in.Version, in.Integrity, filepath.Join(root, name))
	fmt.Fprintf(&b, "Wrote %s: the app mcp.%s\n", entryPath, name)
	fmt.Fprintf(&b, "  command: %s %s\n", s.Command, strings.Join(s.Args, " "))
	if s.Data {
		fmt.Fprintf(&b, "  data:    each user gets a directory of their own at %s\n", mcpDataVar)
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "  - %s\n", n)
	}
	fmt.Fprintf(&b, "Next: `secgpt doctor` checks it, `secgpt chat` uses it (e.g. \"%s__<tool> {json}\").\n", name)
	return b.String(), nil
}

func mcpNameOK(n string) bool { return entry.CheckName(n) == nil }

// writeEntry writes one server's entry (only its set keys), with a header
// saying where it came from, in place of any earlier one (a new file
// renamed over it).
func writeEntry(path string, s config.MCPServer, from string) error {
	var y bytes.Buffer
	fmt.Fprintf(&y, "# Written by `secgpt mcp add`: %s.\n# Read as mcp.servers.%s; edit freely.\n", from, strings.TrimSuffix(filepath.Base(path), ".yaml"))
	enc := yaml.NewEncoder(&y)
	enc.SetIndent(2)
	if err := enc.Encode(s.Entry()); err != nil {
		return err
	}
	return atomicfile.Write(path, y.Bytes(), 0o644)
}
