package cli

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/ids"
)

// TestAppFilesWithSandbox: the mail app's mailbox setting works with the
// sandbox on once apps.files names the file, even a root-only file in a
// 0700 directory; without it the spoke is refused, as before.
func TestAppFilesWithSandbox(t *testing.T) {
	base, err := os.MkdirTemp("/var/tmp", "secgpt-appfiles-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	home := filepath.Join(base, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	mailbox := filepath.Join(home, "mailbox.json")
	box := `{"owner":"alex@example.com","messages":[{"id":"m-1","thread_id":"t-1","date":"2026-11-20T10:00:00Z",` +
		`"from":"Zed <zed@example.com>","to":["alex@example.com"],"subject":"Zebra contract","labels":["INBOX"],"body":"The zebra contract is signed."}]}`
	if err := os.WriteFile(mailbox, []byte(box), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		files string
		want  string
	}{
		{"named in apps.files", "  files:\n    search_gmail: [{path: " + mailbox + "}]\n", "zebra contract is signed"},
		{"not named", "", "permission denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "c.yaml")
			yml := "store: {path: " + filepath.Join(dir, "s.db") + "}\nsandbox: {pool: 0}\napps:\n  installed: [search_gmail]\n" +
				"  settings:\n    search_gmail: {mailbox: " + mailbox + "}\n" + tc.files
			if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path, func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			d := testBuild(t, cfg, buildOptions{})
			c := &scripted.Conversation{A: d.Assistant, User: "test:alex", Policy: scripted.AllowPlanned}
			reply := c.Send(context.Background(), "Use search_gmail to find the email about the zebra contract")
			if !strings.Contains(strings.ToLower(reply), tc.want) {
				t.Fatalf("reply %q, want %q", reply, tc.want)
			}
		})
	}
}

// TestAppSecrets: apps.secrets values from the environment or a file go
// into that app's settings only, and a missing one names its key.
func TestAppSecrets(t *testing.T) {
	f := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(f, []byte("ya29.from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Apps.Secrets = map[string]map[string]config.Secret{
		"search_gmail":          {"access_token": {File: f}},
		"google_drive_retrieve": {"access_token": {Env: "DRIVE_TOKEN"}},
	}
	appCfg := map[ids.AppID]json.RawMessage{"search_gmail": json.RawMessage(`{"backend":"gmail"}`)}
	env := map[string]string{"DRIVE_TOKEN": "ya29.from-env"}
	if _, err := newAppPolicies(cfg, appCfg, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if got := string(appCfg["search_gmail"]); got != `{"access_token":"ya29.from-file","backend":"gmail"}` {
		t.Errorf("search_gmail settings %s", got)
	}
	if got := string(appCfg["google_drive_retrieve"]); got != `{"access_token":"ya29.from-env"}` {
		t.Errorf("drive settings %s", got)
	}
	delete(env, "DRIVE_TOKEN")
	_, err := newAppPolicies(cfg, map[ids.AppID]json.RawMessage{}, func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "apps.secrets.google_drive_retrieve.access_token") {
		t.Fatalf("missing secret: %v", err)
	}
}

// TestMCPImport converts Claude Desktop, Claude Code and VS Code configs;
// no secret reaches the output (env values, header tokens, URL user-info
// and queries, credential arguments become references named as the server
// names them), and bad JSON is reported at its line and column.
func TestMCPImport(t *testing.T) {
	tests := []struct {
		name, in  string
		want, not []string
		err       string
	}{
		{name: "claude desktop", in: `{"mcpServers":{"Files":{"command":"npx","args":["-y","@modelcontextprotocol/server-filesystem","/home/a"]},` +
			`"gh":{"command":"/usr/bin/node","args":["/opt/gh.js"],"env":{"GITHUB_PERSONAL_ACCESS_TOKEN":"ghp_secret","LEVEL":"1"}}}}`,
			want: []string{"files:", "command: npx", "npx @modelcontextprotocol/server-filesystem fetches", "GITHUB_PERSONAL_ACCESS_TOKEN:", "env: GITHUB_PERSONAL_ACCESS_TOKEN", "LEVEL: \"1\"", "set GITHUB_PERSONAL_ACCESS_TOKEN in the bot's environment"},
			not:  []string{"ghp_secret", "GH_GITHUB", "GITHUB_GITHUB"}},
		{name: "vs code mcp.json", in: `{"inputs":[],"servers":{"remote":{"type":"http","url":"https://mcp.example.com/mcp","headers":{"Authorization":"Bearer tok_secret"}}}}`,
			want: []string{"url: https://mcp.example.com/mcp", "BEARER_TOKEN:", "env: BEARER_TOKEN"}, not: []string{"tok_secret"}},
		{name: "vs code settings with comments", in: "{\n// mine\n\"mcp\":{\"servers\":{\"m\":{\"command\":\"/usr/bin/node\",\"args\":[\"/x.js\"],\"env\":{\"K\":\"${input:key}\"}}}}}",
			want: []string{"m:", "K:", "env: K"}, not: []string{"${input"}},
		{name: "claude code projects", in: `{"projects":{"/home/a/p":{"mcpServers":{"db":{"type":"stdio","command":"/usr/bin/node",` +
			`"args":["/opt/pg.js","postgres://alice:hunter2@db.internal:5432/app","--api-key=k-123","--token","t-456","--verbose"]}}}}}`,
			want: []string{"${DB_URL}", "--api-key=${API_KEY}", "${TOKEN}", "env: DB_URL", "env: API_KEY", "env: TOKEN", "--verbose"},
			not:  []string{"hunter2", "alice", "k-123", "t-456"}},
		{name: "url credentials", in: `{"mcpServers":{"r":{"url":"https://bob:pw@mcp.example.com/mcp?api_key=abc123&x=1"}}}`,
			want: []string{"url: https://bob:${R_URL_PASSWORD}@mcp.example.com/mcp?api_key=${API_KEY}&x=${X}", "env: R_URL_PASSWORD", "env: API_KEY", "env: X",
				"set R_URL_PASSWORD in the bot's environment (the url's password"},
			not: []string{"pw@", "abc123", "=1"}},
		{name: "url token as user name", in: `{"mcpServers":{"r":{"url":"https://ghp_abc@mcp.example.com/mcp"}}}`,
			want: []string{"url: https://${R_URL_USER}@mcp.example.com/mcp", "env: R_URL_USER"}, not: []string{"ghp_abc"}},
		{name: "two servers, one variable", in: `{"mcpServers":{"a":{"command":"/bin/a","env":{"API_KEY":"1"}},"b":{"command":"/bin/b","env":{"API_KEY":"2"}}}}`,
			want: []string{"env: API_KEY", "env: B_API_KEY"}},
		{name: "token-looking value", in: `{"mcpServers":{"a":{"command":"/bin/a","env":{"UPSTREAM":"sk-live-abcdefghijklmnop"}}}}`,
			want: []string{"env: UPSTREAM"}, not: []string{"sk-live"}},
		{name: "no servers", in: `{"other":{}}`, err: "no servers found"},
		{name: "not json", in: `mcpServers: {}`, err: "line 1, column 1"},
		{name: "bad json on line 3", in: "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\",}\n  }\n}", err: "line 3, column 26"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			im, err := importMCP([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			y, err := im.yaml()
			if err != nil {
				t.Fatal(err)
			}
			out := strings.Join(im.notes, "\n") + "\n" + string(y)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("output holds %q:\n%s", n, out)
				}
			}
			// What it prints is a config SecGPT reads (once the noted
			// environment variables are set).
			var c config.Config
			if err := config.Parse(y, &c); err != nil {
				t.Fatalf("output does not parse: %v\n%s", err, y)
			}
		})
	}
}

// FuzzMCPImport: no input makes the importer panic, and what it accepts
// prints as a config SecGPT reads.
func FuzzMCPImport(f *testing.F) {
	f.Add([]byte(`{"mcpServers":{"a":{"command":"x","env":{"TOKEN":"y"}}}}`))
	f.Add([]byte("{// c\n\"servers\":{\"\":{\"url\":\"\"}}}"))
	f.Add([]byte(`{"projects":{"p":{"mcpServers":{"d":{"command":"npx","args":["-y","pkg@1","postgres://u:p@h/d","--token","x"]}}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		im, err := importMCP(b)
		if err == nil {
			y, yerr := im.yaml()
			if yerr != nil {
				t.Fatal(yerr)
			}
			var c config.Config
			if perr := config.Parse(y, &c); perr != nil {
				t.Fatalf("importer output does not parse: %v\n%s", perr, y)
			}
		}
	})
}

// TestConfigMasksMCP: inline env values and bearer tokens of MCP servers
// are masked by `secgpt config`; where a secret comes from is shown.
func TestConfigMasksMCP(t *testing.T) {
	cfg := config.Default()
	cfg.MCP.Servers = map[string]config.MCPServer{
		"gh": {URL: "https://mcp.example.com/mcp", BearerToken: "tok-inline", Env: map[string]string{"API_KEY": "k-inline"},
			Secrets: map[string]config.Secret{"OTHER": {Env: "OTHER_VAR"}}},
	}
	var out strings.Builder
	if code := printConfig(cfg, &out, io.Discard); code != 0 {
		t.Fatalf("code %d", code)
	}
	s := out.String()
	if strings.Contains(s, "tok-inline") || strings.Contains(s, "k-inline") || !strings.Contains(s, "OTHER_VAR") {
		t.Fatalf("config output: %s", s)
	}
}

// TestMCPServerFromConfig: the command is resolved, the program's package
// tree and named files become read-only mounts, secrets become the
// server's environment (BEARER_TOKEN the remote token), and data and roots
// follow the config.
func TestMCPServerFromConfig(t *testing.T) {
	dir := t.TempDir()
	entry := filepath.Join(dir, "node_modules", "@x", "server", "dist", "index.js")
	if err := os.MkdirAll(filepath.Dir(entry), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(entry, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(dir, "shared")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"API": "k-1", "TOK": "t-1"}
	s, files, err := mcpServer("x", config.MCPServer{Command: "sh", Args: []string{entry, "--flag"}, Data: true,
		Files: []config.File{{Path: shared, Write: true}}, Secrets: map[string]config.Secret{"API_KEY": {Env: "API"}}},
		func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(s.Command) || s.Env["API_KEY"] != "k-1" || !s.Data || len(s.Roots) != 1 || s.Roots[0] != shared {
		t.Errorf("server %+v", s)
	}
	want := map[string]bool{shared: true, filepath.Join(dir, "node_modules"): false}
	for _, m := range files {
		if w, ok := want[m.Source]; ok && w == m.Write {
			delete(want, m.Source)
		}
	}
	if len(want) > 0 {
		t.Errorf("mounts %+v lack %v", files, want)
	}
	r, _, err := mcpServer("r", config.MCPServer{URL: "https://mcp.example.com/mcp", Secrets: map[string]config.Secret{"BEARER_TOKEN": {Env: "TOK"}}},
		func(k string) string { return env[k] })
	if err != nil || r.BearerToken != "t-1" || r.Env["BEARER_TOKEN"] != "" {
		t.Errorf("remote %+v, %v", r, err)
	}
	if _, _, err := mcpServer("y", config.MCPServer{Command: "no-such-program-here"}, nil); err == nil || !strings.Contains(err.Error(), "mcp.servers.y.command") {
		t.Errorf("missing program: %v", err)
	}
}
