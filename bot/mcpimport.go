package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
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
	if len(args) != 2 || args[0] != "import" {
		fmt.Fprintln(errOut, "usage: secgpt mcp import FILE   (a Claude Desktop or VS Code MCP config; prints SecGPT's mcp: section)")
		return 2
	}
	b, err := os.ReadFile(args[1])
	if err != nil {
		fmt.Fprintln(errOut, "secgpt: mcp import:", err)
		return 1
	}
	y, notes, err := importMCP(b)
	if err != nil {
		fmt.Fprintf(errOut, "secgpt: mcp import %s: %v\n", args[1], err)
		return 1
	}
	for _, n := range notes {
		fmt.Fprintln(out, "# "+n)
	}
	_, _ = out.Write(y)
	return 0
}

// foreignServer is one server in a Claude Desktop ("mcpServers") or VS Code
// ("servers", or "mcp.servers" in settings.json) config.
type foreignServer struct {
	Type    string            `json:"type"`
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
}

// importedServer is config.MCPServer as printed: only what is set.
type importedServer struct {
	Command string                   `yaml:"command,omitempty"`
	Args    []string                 `yaml:"args,omitempty"`
	Env     map[string]string        `yaml:"env,omitempty"`
	URL     string                   `yaml:"url,omitempty"`
	Secrets map[string]config.Secret `yaml:"secrets,omitempty"`
	Files   []config.File            `yaml:"files,omitempty"`
	Data    bool                     `yaml:"data,omitempty"`
	// TrustAnnotations is set only by the operator's own flag.
	TrustAnnotations bool `yaml:"trust_annotations,omitempty"`
}

var (
	secretName  = regexp.MustCompile(`(?i)(key|token|secret|password|passwd|credential|auth)`)
	inputRef    = regexp.MustCompile(`\$\{input:([^}]+)\}`)
	badNameChar = regexp.MustCompile(`[^a-z0-9_-]+`)
)

// importMCP converts a foreign config to SecGPT's mcp: section (YAML), with
// notes on what the operator must still do. Secrets never move into the
// output: a value that looks like one becomes a secret read from an
// environment variable of the same name.
func importMCP(b []byte) ([]byte, []string, error) {
	var doc struct {
		MCPServers map[string]foreignServer `json:"mcpServers"`
		Servers    map[string]foreignServer `json:"servers"`
		MCP        struct {
			Servers map[string]foreignServer `json:"servers"`
		} `json:"mcp"`
	}
	dec := json.NewDecoder(bytes.NewReader(stripJSONComments(b)))
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("not a JSON MCP config: %w", err)
	}
	in := doc.MCPServers
	if len(in) == 0 {
		in = doc.Servers
	}
	if len(in) == 0 {
		in = doc.MCP.Servers
	}
	if len(in) == 0 {
		return nil, nil, fmt.Errorf("no servers found (looked for mcpServers, servers and mcp.servers)")
	}
	names := make([]string, 0, len(in))
	for n := range in {
		names = append(names, n)
	}
	sort.Strings(names)
	out := map[string]importedServer{}
	var notes []string
	for _, orig := range names {
		f := in[orig]
		name := strings.Trim(badNameChar.ReplaceAllString(strings.ToLower(orig), "-"), "-")
		if len(name) > 41 {
			name = name[:41]
		}
		if name == "" {
			name = "server"
		}
		if _, dup := out[name]; dup {
			name += fmt.Sprintf("-%d", len(out))
		}
		if name != orig {
			notes = append(notes, fmt.Sprintf("server %q is named %q here (the app mcp.%s)", orig, name, name))
		}
		s := importedServer{Command: f.Command, Args: f.Args, URL: f.URL}
		if f.Type == "sse" {
			notes = append(notes, fmt.Sprintf("%s: the SSE transport is not supported; point url at the server's streamable HTTP endpoint", name))
		}
		secret := func(envName string) {
			if s.Secrets == nil {
				s.Secrets = map[string]config.Secret{}
			}
			src := strings.ToUpper(badNameChar.ReplaceAllString(strings.ToLower(name), "_")) + "_" + envName
			s.Secrets[envName] = config.Secret{Env: src}
			notes = append(notes, fmt.Sprintf("%s: set %s in the bot's environment (the value of %s was not copied)", name, src, envName))
		}
		for k, v := range f.Env {
			if secretName.MatchString(k) || inputRef.MatchString(v) {
				secret(k)
				continue
			}
			if s.Env == nil {
				s.Env = map[string]string{}
			}
			s.Env[k] = v
		}
		for k, v := range f.Headers {
			if strings.EqualFold(k, "Authorization") && strings.HasPrefix(v, "Bearer ") {
				secret("BEARER_TOKEN")
				continue
			}
			notes = append(notes, fmt.Sprintf("%s: header %s is not supported and was left out", name, k))
		}
		switch f.Command {
		case "npx", "uvx", "pipx", "bunx", "docker":
			notes = append(notes, fmt.Sprintf("%s: %s fetches or runs code outside the sandbox's view at every start; install the server (npm install --prefix DIR PACKAGE) and set command to the interpreter and args to its entry file", name, f.Command))
		}
		out[name] = s
	}
	var y bytes.Buffer
	enc := yaml.NewEncoder(&y)
	enc.SetIndent(2)
	if err := enc.Encode(map[string]any{"mcp": map[string]any{"servers": out}}); err != nil {
		return nil, nil, err
	}
	return y.Bytes(), notes, nil
}

// stripJSONComments drops // line comments outside strings (VS Code's
// settings files allow them).
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
