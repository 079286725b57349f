package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/config"
)

// TestPreflightMCP: what can be checked before a server starts fails at
// once with a reason that names the missing piece and no path or value.
func TestPreflightMCP(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "tok")
	if err := os.WriteFile(secretFile, []byte("t-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GOOD": "v"}
	tests := []struct {
		name string
		c    config.MCPServer
		want string // "" means it passes
	}{
		{"ok", config.MCPServer{Command: "sh", Args: []string{"-c", dir}, Secrets: map[string]config.Secret{"A": {Env: "GOOD"}, "B": {File: secretFile}},
			Files: []config.File{{Path: dir}}}, ""},
		{"remote", config.MCPServer{URL: "https://mcp.example.com/mcp"}, ""},
		{"command missing", config.MCPServer{Command: "/opt/nowhere/node"}, `command "node" not found`},
		{"secret unset", config.MCPServer{Command: "sh", Secrets: map[string]config.Secret{"GITHUB_TOKEN": {Env: "GITHUB_TOKEN"}}},
			"secret GITHUB_TOKEN: environment variable GITHUB_TOKEN is unset or empty"},
		{"secret file missing", config.MCPServer{Command: "sh", Secrets: map[string]config.Secret{"K": {File: filepath.Join(dir, "none")}}}, "secret K: its file cannot be read"},
		{"declared file missing", config.MCPServer{Command: "sh", Files: []config.File{{Path: filepath.Join(dir, "gone")}}}, "files[0] does not exist"},
		{"path argument missing", config.MCPServer{Command: "sh", Args: []string{"-x", filepath.Join(dir, "gone.js")}}, "argument 2 names a path that does not exist"},
		{"data reference is not checked", config.MCPServer{Command: "sh", Args: []string{"${SECGPT_DATA}/x"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := preflightMCP("x", tt.c, func(k string) string { return env[k] })
			if tt.want == "" {
				if err != nil {
					t.Fatalf("err %v", err)
				}
				return
			}
			st := statusOf("x", 0, 0, err)
			if st.Ready || st.Reason != tt.want && !strings.HasPrefix(st.Reason, tt.want) {
				t.Fatalf("status %+v, want reason %q", st, tt.want)
			}
			if strings.Contains(st.Reason, dir) {
				t.Fatalf("reason %q names a path", st.Reason)
			}
		})
	}
}

// TestMCPFailuresVisible: broken servers do not stop the bot, fail fast
// (a missing program or secret before anything starts, a silent server at
// mcp.discover_timeout), and the progress lines, the banner and /readyz
// name each one with its reason.
func TestMCPFailuresVisible(t *testing.T) {
	base, err := os.MkdirTemp("/var/tmp", "secgpt-mcpstatus-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	yml := "store: {path: " + filepath.Join(base, "s.db") + "}\nsandbox: {pool: 0}\nserver: {listen: \"127.0.0.1:0\"}\napps: {installed: [quick_ride]}\n" +
		"mcp:\n  discover_timeout: 2s\n  servers:\n" +
		"    nocmd: {command: /opt/nowhere/node, args: [/opt/nowhere/index.js]}\n" +
		"    nosecret: {command: /bin/cat, secrets: {GITHUB_TOKEN: {env: SECGPT_TEST_UNSET_TOKEN}}}\n" +
		"    silent: {command: /bin/sleep, args: [\"30\"]}\n"
	path := filepath.Join(base, "c.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	start := time.Now()
	d := testBuild(t, cfg, buildOptions{progress: &progress})
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("start took %s", took)
	}
	banner := d.Banner()
	for _, w := range []string{
		`mcp.nocmd FAILED: command "node" not found`,
		"mcp.nosecret FAILED: secret GITHUB_TOKEN: environment variable SECGPT_TEST_UNSET_TOKEN is unset or empty",
		"mcp.silent FAILED: its tools were not listed within 2s (mcp.discover_timeout)",
	} {
		if !strings.Contains(banner, w) {
			t.Errorf("banner lacks %q:\n%s", w, banner)
		}
		if !strings.Contains(progress.String(), w) {
			t.Errorf("progress lacks %q:\n%s", w, progress.String())
		}
	}
	if !strings.Contains(progress.String(), "mcp.silent: starting in its sandbox") {
		t.Errorf("no line before the wait:\n%s", progress.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = d.Run(ctx) }()
	resp, err := http.Get("http://" + d.listener.Addr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"mcp.nocmd":"not ready: command \"node\" not found"`) ||
		!strings.Contains(string(body), `"mcp.silent":"not ready: its tools were not listed within 2s`) || strings.Contains(string(body), "/opt/nowhere") {
		t.Fatalf("/readyz %d %s", resp.StatusCode, body)
	}
}

// TestDoctorListsMCPServers: `secgpt doctor` starts each configured server
// as the bot would and names the broken one with its reason (exit 1).
func TestDoctorListsMCPServers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	yml := "store: {path: " + filepath.Join(dir, "s.db") + "}\nmcp:\n  servers:\n    nocmd: {command: /opt/nowhere/node}\n"
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ args, want []string }{
		{[]string{"doctor"}, []string{"MCP servers", `mcp.nocmd FAILED: command "node" not found`}},
		{[]string{"doctor", "--json"}, []string{`"mcp_servers"`, `"reason": "command \"node\" not found"`}},
	} {
		var out, errOut strings.Builder
		code := run(context.Background(), append([]string{"--config", path}, tc.args...), strings.NewReader(""), &out, &errOut)
		if code != 1 {
			t.Errorf("%v: exit %d, want 1\n%s", tc.args, code, errOut.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out.String())
			}
		}
	}
}

// testBuild builds a deployment for a test, closed when it ends; without
// a sandbox on this host it skips (fails under CI).
func testBuild(t *testing.T, cfg config.Config, bo buildOptions) *deployment {
	t.Helper()
	d, err := buildWith(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), bo)
	if err != nil {
		if os.Getenv("CI") != "true" && strings.Contains(err.Error(), "sandbox") {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}
