package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/secgpt-go/secgpt/config"
)

// runMCP serves `secgpt mcp add …` and `secgpt mcp import FILE`.
func runMCP(ctx context.Context, cfg config.Config, args []string, out, errOut io.Writer) int {
	if len(args) > 0 && args[0] == "add" {
		return runMCPAdd(ctx, cfg, args[1:], out, errOut)
	}
	if len(args) == 0 || args[0] != "import" {
		fmt.Fprintln(errOut, "usage: secgpt mcp add [flags] PACKAGE[@VERSION] [-- ARGS]   (install an npm MCP server; --help for flags)")
		fmt.Fprintln(errOut, "       secgpt mcp import [--print] FILE   (a Claude Desktop, Claude Code or VS Code MCP config)")
		return 2
	}
	fs := flag.NewFlagSet("secgpt mcp import", flag.ContinueOnError)
	fs.SetOutput(errOut)
	printOnly := fs.Bool("print", false, "print the mcp: section instead of installing npx servers and writing entries to mcp.install_dir")
	force := fs.Bool("force", false, "replace entries of the same names in mcp.install_dir")
	noNames := fs.Bool("no-names", false, "do not list each server's tools to name them for the planner by their own names (it then sees t1, t2, …)")
	fs.Usage = func() {
		fmt.Fprintln(errOut, "usage: secgpt mcp import [--print] [--force] [--no-names] FILE\n\n"+
			"Reads a Claude Desktop (claude_desktop_config.json), Claude Code (~/.claude.json, .mcp.json) or\n"+
			"VS Code (mcp.json, settings.json) MCP config. Each server becomes an entry in mcp.install_dir\n"+
			"(npx packages installed and pinned, like `secgpt mcp add`); secrets are never copied: they\n"+
			"become references to environment variables, listed in the report.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	file := fs.Arg(0)
	b, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(errOut, "secgpt: mcp import:", err)
		return 1
	}
	im, err := importMCP(b)
	if err != nil {
		fmt.Fprintf(errOut, "secgpt: mcp import %s: %v\n", file, err)
		return 1
	}
	if *printOnly {
		y, err := im.yaml()
		if err != nil {
			fmt.Fprintln(errOut, "secgpt: mcp import:", err)
			return 1
		}
		for _, n := range im.notes {
			fmt.Fprintln(out, "# "+n)
		}
		_, _ = out.Write(y)
		return 0
	}
	rep, err := im.install(ctx, cfg, *force, *noNames, errOut)
	_, _ = io.WriteString(out, rep)
	if err != nil {
		fmt.Fprintln(errOut, "secgpt: mcp import:", err)
		return 1
	}
	return 0
}

// foreignServer is one server in a Claude Desktop or Claude Code
// ("mcpServers") or VS Code ("servers", or "mcp.servers" in
// settings.json) config.
type foreignServer struct {
	Type    string            `json:"type"`
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
}

// imported is a converted foreign config: the servers by name, the npx
// packages still to install, and what the operator must know.
type imported struct {
	servers map[string]config.MCPServer
	// npx are the servers run with npx (or another fetch-and-run tool):
	// the package and the server's own arguments.
	npx   map[string]npxRef
	notes []string
}

type npxRef struct {
	pkg, version string
	args         []string
}

var (
	urlKeyOK    = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	secretName  = regexp.MustCompile(`(?i)(key|token|secret|password|passwd|pwd|credential|auth|cookie|session)`)
	inputRef    = regexp.MustCompile(`\$\{input:([^}]+)\}`)
	badNameChar = regexp.MustCompile(`[^a-z0-9_-]+`)
	// tokenValue is a value that looks like a credential whatever its
	// variable is called: a known token prefix, or a long run of letters
	// and digits with no path or space in it.
	tokenValue = regexp.MustCompile(`^(ghp_|gho_|github_pat_|glpat-|sk-|sk_|xox[abposr]-|ya29\.|AKIA|AIza|eyJ)|^[A-Za-z0-9_\-+=.]{24,}$`)
	// flagSecret is an argument "--token=VALUE" (or -p, --password, …).
	flagSecret = regexp.MustCompile(`^(--?[A-Za-z0-9_-]*(?:key|token|secret|password|passwd|pwd|credential|auth)[A-Za-z0-9_-]*)=(.+)$`)
)

// importMCP converts a foreign config. Secrets never move into the output:
// env values, header tokens, URL user-info and queries, and credential
// arguments become secret references to environment variables named as
// the server names them.
func importMCP(b []byte) (*imported, error) {
	var doc struct {
		MCPServers map[string]foreignServer `json:"mcpServers"`
		Servers    map[string]foreignServer `json:"servers"`
		MCP        struct {
			Servers map[string]foreignServer `json:"servers"`
		} `json:"mcp"`
		// Claude Code's ~/.claude.json keeps servers per project too.
		Projects map[string]struct {
			MCPServers map[string]foreignServer `json:"mcpServers"`
		} `json:"projects"`
	}
	clean := stripJSONComments(b)
	if err := json.Unmarshal(clean, &doc); err != nil {
		return nil, fmt.Errorf("not a JSON MCP config: %s", jsonErrorAt(clean, err))
	}
	in := map[string]foreignServer{}
	for _, m := range []map[string]foreignServer{doc.MCPServers, doc.Servers, doc.MCP.Servers} {
		for k, v := range m {
			if _, ok := in[k]; !ok {
				in[k] = v
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(doc.Projects)) {
		for k, v := range doc.Projects[p].MCPServers {
			if _, ok := in[k]; !ok {
				in[k] = v
			}
		}
	}
	if len(in) == 0 {
		return nil, fmt.Errorf("no servers found (looked for mcpServers, servers, mcp.servers and projects.*.mcpServers)")
	}
	names := slices.Sorted(maps.Keys(in))
	im := &imported{servers: map[string]config.MCPServer{}, npx: map[string]npxRef{}}
	// Which server first took each variable of the bot's environment: a
	// second server naming the same one gets its own, prefixed.
	owner := map[string]string{}
	for _, orig := range names {
		f := in[orig]
		name := strings.Trim(badNameChar.ReplaceAllString(strings.ToLower(orig), "-"), "-")
		if len(name) > 41 {
			name = name[:41]
		}
		if name == "" {
			name = "server"
		}
		if _, dup := im.servers[name]; dup {
			name += fmt.Sprintf("-%d", len(im.servers))
		}
		if name != orig {
			im.notef("server %q is named %q here (the app mcp.%s)", orig, name, name)
		}
		// Never trust_annotations: only the operator's own flag sets it.
		s := config.MCPServer{Command: f.Command, Args: append([]string(nil), f.Args...)}
		if f.Type == "sse" {
			im.notef("%s: the SSE transport is not supported; point url at the server's streamable HTTP endpoint", name)
		}
		// secret makes key (the server's variable) a reference to a
		// variable of the bot's environment, named like key unless
		// another server took that name.
		secret := func(key, why string) string {
			if s.Secrets == nil {
				s.Secrets = map[string]config.Secret{}
			}
			src := key
			if o, ok := owner[src]; ok && o != name {
				src = strings.ToUpper(badNameChar.ReplaceAllString(name, "_")) + "_" + key
			}
			owner[src] = name
			s.Secrets[key] = config.Secret{Env: src}
			im.notef("%s: set %s in the bot's environment (%s; its value was not copied)", name, src, why)
			return src
		}
		for _, k := range slices.Sorted(maps.Keys(f.Env)) {
			v := f.Env[k]
			if secretName.MatchString(k) || inputRef.MatchString(v) || tokenValue.MatchString(v) && !filepath.IsAbs(v) {
				secret(k, "a secret of the server's environment")
				continue
			}
			if s.Env == nil {
				s.Env = map[string]string{}
			}
			s.Env[k] = v
		}
		if f.URL != "" {
			u, err := url.Parse(f.URL)
			if err != nil || u.Host == "" {
				im.notef("%s: url %q is not a URL; left out", name, clip(f.URL, 80))
			} else {
				// The user info and every query value may be credentials:
				// each becomes a reference to a secret of the server's
				// (${NAME}, filled in when the bot starts), never copied.
				upper := strings.ToUpper(badNameChar.ReplaceAllString(name, "_"))
				userinfo := ""
				if u.User != nil {
					user := u.User.Username()
					if _, hasPass := u.User.Password(); hasPass {
						userinfo = url.PathEscape(user) + ":${" + secret(upper+"_URL_PASSWORD", "the url's password") + "}@"
					} else {
						userinfo = "${" + secret(upper+"_URL_USER", "the url's user name, which may be a token") + "}@"
					}
				}
				var query []string
				q := u.Query()
				for _, k := range slices.Sorted(maps.Keys(q)) {
					if len(q[k]) == 0 || !urlKeyOK.MatchString(k) {
						continue
					}
					ref := secret(envKey(k, upper+"_URL_QUERY"), "the url's query value "+k)
					query = append(query, url.QueryEscape(k)+"=${"+ref+"}")
				}
				u.User, u.RawQuery, u.Fragment = nil, "", ""
				base := u.String()
				if userinfo != "" {
					base = u.Scheme + "://" + userinfo + strings.TrimPrefix(base, u.Scheme+"://")
				}
				if len(query) > 0 {
					base += "?" + strings.Join(query, "&")
				}
				s.URL = base
			}
		}
		for _, k := range slices.Sorted(maps.Keys(f.Headers)) {
			v := f.Headers[k]
			if strings.EqualFold(k, "Authorization") && strings.HasPrefix(v, "Bearer ") {
				secret("BEARER_TOKEN", "the Authorization header's token")
				continue
			}
			im.notef("%s: header %s is not supported and was left out (its value was not copied)", name, k)
		}
		s.Args = im.argSecrets(name, s.Args, secret)
		switch f.Command {
		case "npx", "bunx", "pnpx":
			if ref, ok := npxPackage(s.Args); ok {
				im.npx[name] = ref
				break
			}
			im.notef("%s: %s with no package among its arguments: install the server and set command and args by hand", name, f.Command)
		case "uvx", "pipx", "docker":
			im.notef("%s: %s fetches or runs code outside the sandbox's view at every start; install the server and set command to the interpreter and args to its entry file", name, f.Command)
		}
		im.servers[name] = s
	}
	return im, nil
}

func (im *imported) notef(format string, a ...any) {
	im.notes = append(im.notes, fmt.Sprintf(format, a...))
}

// argSecrets replaces credentials in a server's arguments with references
// to its own secrets (${NAME}, expanded only inside its spoke): a URL's
// password ("postgres://user:pass@host/db"), "--token=VALUE", and the
// argument after a "--token".
func (im *imported) argSecrets(server string, args []string, secret func(key, why string) string) []string {
	out := make([]string, len(args))
	upper := strings.ToUpper(badNameChar.ReplaceAllString(server, "_"))
	for i, a := range args {
		out[i] = a
		if u, err := url.Parse(a); err == nil && u.Scheme != "" && u.Host != "" {
			if _, hasPass := u.User.Password(); hasPass || u.RawQuery != "" && secretName.MatchString(u.RawQuery) {
				key := upper + "_URL"
				secret(key, fmt.Sprintf("argument %d is a URL with a credential (%s://…@%s)", i+1, u.Scheme, u.Host))
				out[i] = "${" + key + "}"
				continue
			}
		}
		if m := flagSecret.FindStringSubmatch(a); m != nil {
			key := envKey(m[1], upper+"_SECRET")
			secret(key, "the argument "+m[1]+"=…")
			out[i] = m[1] + "=${" + key + "}"
			continue
		}
		if i > 0 && flagSecret.MatchString(args[i-1]+"=x") && !strings.HasPrefix(a, "-") && !strings.Contains(args[i-1], "=") {
			key := envKey(args[i-1], upper+"_SECRET")
			secret(key, "the value of "+args[i-1])
			out[i] = "${" + key + "}"
		}
	}
	return out
}

// envKey is the variable named after a flag ("--api-key" is API_KEY), or
// fallback when the flag makes no variable name.
func envKey(flag, fallback string) string {
	k := strings.ToUpper(strings.Trim(badNameChar.ReplaceAllString(strings.ReplaceAll(strings.ToLower(strings.TrimLeft(flag, "-")), "-", "_"), "_"), "_"))
	if !envNameOK(k) {
		return fallback
	}
	return k
}

// npxPackage finds the package an npx command line runs: the first
// argument that is not an npx option, and the server's arguments after it.
func npxPackage(args []string) (npxRef, bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-p" || a == "--package":
			i++
			continue
		case strings.HasPrefix(a, "-"):
			continue
		}
		pkg, version, err := splitPackage(a)
		if err != nil {
			return npxRef{}, false
		}
		return npxRef{pkg: pkg, version: version, args: args[i+1:]}, true
	}
	return npxRef{}, false
}

// yaml prints the servers as SecGPT's mcp: section, npx left as it is.
func (im *imported) yaml() ([]byte, error) {
	var y bytes.Buffer
	enc := yaml.NewEncoder(&y)
	enc.SetIndent(2)
	servers := map[string]yaml.Marshaler{}
	for n, s := range im.servers {
		servers[n] = s.Entry()
	}
	if err := enc.Encode(map[string]any{"mcp": map[string]any{"servers": servers}}); err != nil {
		return nil, err
	}
	for name, ref := range im.npx {
		im.notef("%s: npx %s fetches code at every start; without --print it is installed and pinned like `secgpt mcp add %s`", name, ref.pkg, ref.pkg)
	}
	sort.Strings(im.notes)
	return y.Bytes(), nil
}

// install installs the npx servers (like `secgpt mcp add`) and writes
// every server as an entry of mcp.install_dir; it returns the report.
func (im *imported) install(ctx context.Context, cfg config.Config, force, noNames bool, progress io.Writer) (string, error) {
	root := cfg.MCPInstallDir()
	names := slices.Sorted(maps.Keys(im.servers))
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(root, n+".yaml")); err == nil && !force {
			return "", fmt.Errorf("%s exists: the server %s is already added (--force replaces it)", filepath.Join(root, n+".yaml"), n)
		}
		if _, dup := cfg.MCP.Servers[n]; dup && !force {
			return "", fmt.Errorf("the config file already has a server %s", n)
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, n := range names {
		s := im.servers[n]
		from := "imported"
		if ref, ok := im.npx[n]; ok {
			in, err := npmInstall(ctx, filepath.Join(root, n), ref.pkg, ref.version, progress)
			if err != nil {
				return b.String(), fmt.Errorf("%s: %w", n, err)
			}
			interp, err := interpreter(in.Entry)
			if err != nil {
				return b.String(), fmt.Errorf("%s: %w", n, err)
			}
			readme, _ := os.ReadFile(filepath.Join(root, n, "node_modules", ref.pkg, "README.md"))
			o := addOptions{secrets: slices.Sorted(maps.Keys(s.Secrets))}
			for _, k := range slices.Sorted(maps.Keys(s.Env)) {
				o.env = append(o.env, k+"="+s.Env[k])
			}
			ns, notes, err := entryFor(in.Entry, interp, ref.args, o, readme)
			if err != nil {
				return b.String(), fmt.Errorf("%s: %w", n, err)
			}
			// Secret references keep the names import chose.
			for k, sec := range s.Secrets {
				ns.Secrets[k] = sec
			}
			s = ns
			from = fmt.Sprintf("%s@%s, integrity %s", ref.pkg, in.Version, in.Integrity)
			fmt.Fprintf(&b, "Installed %s for %s into %s\n", from, n, filepath.Join(root, n))
			for _, note := range notes {
				if !strings.HasPrefix(note, "set ") {
					fmt.Fprintf(&b, "  - %s\n", note)
				}
			}
		}
		var named []string
		if !noNames {
			named = nameServer(ctx, cfg, n, &s, progress)
		}
		if err := writeEntry(filepath.Join(root, n+".yaml"), s, from); err != nil {
			return b.String(), err
		}
		fmt.Fprintf(&b, "Wrote %s: the app mcp.%s\n", filepath.Join(root, n+".yaml"), n)
		for _, line := range named {
			fmt.Fprintf(&b, "  - %s\n", line)
		}
	}
	sort.Strings(im.notes)
	for _, n := range im.notes {
		fmt.Fprintf(&b, "  - %s\n", n)
	}
	b.WriteString("Next: `secgpt doctor` checks them, `secgpt chat` uses them.\n")
	return b.String(), nil
}

// jsonErrorAt says where in b a JSON error is, as line and column.
func jsonErrorAt(b []byte, err error) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 {
		return err.Error()
	}
	// Offset counts the bytes read, the offending one included.
	if off > 0 {
		off--
	}
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	line := 1 + bytes.Count(b[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(b[:off], '\n')
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

// stripJSONComments drops // line comments outside strings (VS Code's
// settings files allow them). Line breaks stay, so errors keep their line
// numbers.
func stripJSONComments(b []byte) []byte {
	var out []byte
	inStr, esc := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inStr:
			out = append(out, c)
			if esc {
				esc = false
			} else if c == '\\' {
				esc = true
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
			out = append(out, c)
		case c == '/' && i+1 < len(b) && b[i+1] == '/':
			for i < len(b) && b[i] != '\n' {
				i++
			}
			out = append(out, '\n')
		default:
			out = append(out, c)
		}
	}
	return out
}
