package cli

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
)

// needNPM skips (fails under CI) without node and npm.
func needNPM(t *testing.T) {
	t.Helper()
	for _, p := range []string{"npm", "node"} {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s missing under CI", p)
			}
			t.Skipf("%s not installed", p)
		}
	}
}

// TestMCPAddThreeCommands is README's "Bring your own tools" as a new user
// types it: `secgpt mcp add` three pinned npm servers, then chat with the
// offline demo model (no API key), which uses each server's tools and
// shows their results as text.
func TestMCPAddThreeCommands(t *testing.T) {
	needNPM(t)
	base, err := os.MkdirTemp("/var/tmp", "secgpt-mcpadd-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	cfgPath := filepath.Join(base, "secgpt.yaml")
	if err := os.WriteFile(cfgPath, []byte("store: {path: "+filepath.Join(base, "state", "secgpt.db")+"}\nsandbox: {pool: 0}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	add := func(args ...string) string {
		t.Helper()
		var out, errOut strings.Builder
		if code := run(ctx, append([]string{"--config", cfgPath, "mcp", "add"}, args...), strings.NewReader(""), &out, &errOut); code != 0 {
			t.Fatalf("mcp add %v: exit %d\n%s\n%s", args, code, out.String(), errOut.String())
		}
		return out.String()
	}
	rep := add("@modelcontextprotocol/server-memory@2026.8.31")
	for _, w := range []string{"Installed @modelcontextprotocol/server-memory@2026.8.31 (integrity sha512-", "mcp.memory", "MEMORY_FILE_PATH", "${SECGPT_DATA}/memory.jsonl",
		"tools the planner sees by their own names", "create_entities", "search_nodes"} {
		if !strings.Contains(rep, w) {
			t.Errorf("report lacks %q:\n%s", w, rep)
		}
	}
	add("--name", "files", "@modelcontextprotocol/server-filesystem@2026.8.31", "--", "${SECGPT_DATA}")
	add("@modelcontextprotocol/server-everything@2026.8.31", "--", "stdio")
	if out := add("--force", "@modelcontextprotocol/server-everything@2026.8.31", "--", "stdio"); !strings.Contains(out, "mcp.everything") {
		t.Errorf("--force: %s", out)
	}
	var errOut strings.Builder
	if code := run(ctx, []string{"--config", cfgPath, "mcp", "add", "@modelcontextprotocol/server-everything@2026.8.31"}, strings.NewReader(""), io.Discard, &errOut); code == 0 ||
		!strings.Contains(errOut.String(), "already added") {
		t.Errorf("a second add without --force: exit %d, %s", code, errOut.String())
	}

	// The third command, as typed: the terminal chat, a plan prompt
	// answered with 1.
	var chatOut strings.Builder
	if code := run(ctx, []string{"--config", cfgPath, "--user", "alex", "chat"}, strings.NewReader("Use everything to echo hello world\n1\n!quit\n"),
		&chatOut, io.Discard); code != 0 || !strings.Contains(chatOut.String(), "Echo: hello world") || !strings.Contains(chatOut.String(), "mcp.everything ready") {
		if strings.Contains(chatOut.String(), "sandbox") && os.Getenv("CI") != "true" && code != 0 {
			t.Skip(chatOut.String())
		}
		t.Fatalf("secgpt chat: exit %d\n%s", code, chatOut.String())
	}

	cfg, err := config.Load(cfgPath, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.MCPServerNames(); strings.Join(got, ",") != "everything,files,memory" {
		t.Fatalf("servers %v", got)
	}
	d := testBuild(t, cfg, buildOptions{})
	c := &scripted.Conversation{A: d.Assistant, User: "test:alex", Policy: scripted.AllowPlanned}
	for _, tc := range []struct{ say, want, not string }{
		{`memory__create_entities {"entities":[{"name":"Alice","entityType":"person","observations":["likes green tea"]}]}`, "Alice", ""},
		{"Search my memory for Alice", "likes green tea", `"text"`},
		{"Use files to list the allowed directories", "/tmp/data", `"text"`},
		{"Use files to read the file /tmp/data", "The server reported an error", "is_error"},
		{"Use everything to echo hello world", "Echo: hello world", `"text"`},
		{"Use everything to get the sum of 2 and 3", "5", `"text"`},
	} {
		reply := c.Send(ctx, tc.say)
		t.Logf("%s -> %q", tc.say, reply)
		if !strings.Contains(reply, tc.want) || tc.not != "" && strings.Contains(reply, tc.not) {
			t.Errorf("%q: reply %q, want %q without %q", tc.say, reply, tc.want, tc.not)
		}
	}
}

// TestMCPImportInstalls: `secgpt mcp import` of a Claude Desktop config
// installs an npx server like `mcp add` (pinned, run by node from the
// installed entry point, not npx) and writes an entry the config loader
// reads, with the secret as a reference.
func TestMCPImportInstalls(t *testing.T) {
	needNPM(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "secgpt.yaml")
	if err := os.WriteFile(cfgPath, []byte("store: {path: "+filepath.Join(dir, "secgpt.db")+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	claude := filepath.Join(dir, "claude_desktop_config.json")
	if err := os.WriteFile(claude, []byte(`{"mcpServers":{"memory":{"command":"npx","args":["-y","@modelcontextprotocol/server-memory@2026.8.31"],`+
		`"env":{"API_TOKEN":"tok-very-secret"}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"--config", cfgPath, "mcp", "import", claude}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	for _, w := range []string{"Installed @modelcontextprotocol/server-memory@2026.8.31, integrity sha512-", "set API_TOKEN in the bot's environment", "mcp.memory"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, out.String())
		}
	}
	entry, err := os.ReadFile(filepath.Join(dir, "mcp", "memory.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(entry), "tok-very-secret") || strings.Contains(string(entry), "npx") {
		t.Fatalf("entry:\n%s", entry)
	}
	cfg, err := config.Load(cfgPath, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.MCP.Servers["memory"]
	if !filepath.IsAbs(s.Command) || len(s.Args) == 0 || !strings.HasSuffix(s.Args[0], "server-memory/dist/index.js") || s.Secrets["API_TOKEN"].Env != "API_TOKEN" ||
		s.Env["MEMORY_FILE_PATH"] != "${SECGPT_DATA}/memory.jsonl" || !s.Data {
		t.Fatalf("server %+v", s)
	}
}

// TestEntryFromREADME: what a package's README documents is taken only
// where it cannot hurt: a path variable goes into the user's data
// directory; a secret is never made a reference by itself (the bot's own
// keys live in its environment), nor is a variable that changes the
// interpreter or the sandbox; operator flags keep their names.
func TestEntryFromREADME(t *testing.T) {
	readme := []byte("# x\n```json\n{\"mcpServers\":{\"x\":{\"command\":\"npx\",\"env\":{\n" +
		`"MEMORY_FILE_PATH": "/path/to/custom/memory.jsonl", "OPENAI_API_KEY": "sk-...", "NODE_OPTIONS": "/tmp/evil.js", ` +
		`"LD_PRELOAD": "/x.so", "SECGPT_DATA": "/etc", "LOG_LEVEL": "debug"}}}}` + "\n```\n")
	s, notes, err := entryFor("/opt/x/index.js", "/usr/bin/node", nil, addOptions{secrets: multiFlag{"GITHUB_TOKEN"}, env: multiFlag{"MODE=fast"}}, readme)
	if err != nil {
		t.Fatal(err)
	}
	if s.Env["MEMORY_FILE_PATH"] != "${SECGPT_DATA}/memory.jsonl" || !s.Data || s.Env["MODE"] != "fast" {
		t.Errorf("env %v data %v", s.Env, s.Data)
	}
	for _, k := range []string{"OPENAI_API_KEY", "NODE_OPTIONS", "LD_PRELOAD", "SECGPT_DATA", "LOG_LEVEL"} {
		if _, ok := s.Env[k]; ok {
			t.Errorf("env has %s: %v", k, s.Env)
		}
		if _, ok := s.Secrets[k]; ok {
			t.Errorf("secrets have %s: %v", k, s.Secrets)
		}
	}
	if len(s.Secrets) != 1 || s.Secrets["GITHUB_TOKEN"].Env != "GITHUB_TOKEN" {
		t.Errorf("secrets %v", s.Secrets)
	}
	all := strings.Join(notes, "\n")
	for _, w := range []string{"documents OPENAI_API_KEY (a secret)", "documents NODE_OPTIONS, which SecGPT does not set", "documents LOG_LEVEL"} {
		if !strings.Contains(all, w) {
			t.Errorf("notes lack %q:\n%s", w, all)
		}
	}
}

// FuzzDocumentedEnv: whatever a package's README holds, the names taken
// from it are environment variable names.
func FuzzDocumentedEnv(f *testing.F) {
	f.Add([]byte(`"env": {"A_PATH": "/x/y", "B": "c"}`))
	f.Add([]byte(`"env":{"X":"` + strings.Repeat("a", 300) + `"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, kv := range documentedEnv(b) {
			if !envNameOK(kv[0]) || len(kv[1]) > 200 {
				t.Fatalf("took %q", kv)
			}
		}
	})
}
