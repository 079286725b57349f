package mcp

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/apps/appstest"
)

// npmDir is where scripts/test.sh installs the real MCP servers.
func npmDir(t testing.TB) string {
	t.Helper()
	d := os.Getenv("SECGPT_NPM_DIR")
	if d == "" {
		home, _ := os.UserHomeDir()
		d = filepath.Join(home, ".cache", "secgpt", "npm")
	}
	if _, err := os.Stat(filepath.Join(d, "node_modules", "@modelcontextprotocol")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("MCP test servers not installed in %s (scripts/test.sh installs them): %v", d, err)
		}
		t.Skipf("MCP test servers not installed in %s (run scripts/test.sh once): %v", d, err)
	}
	if _, err := os.Stat("/usr/bin/node"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node missing under CI")
		}
		t.Skip("node not installed")
	}
	return d
}

func serverJS(dir, name string) string {
	return filepath.Join(dir, "node_modules", "@modelcontextprotocol", name, "dist", "index.js")
}

// TestInProcessMemory drives the real memory server through the client
// without a sandbox: the SDK plumbing (tools, schemas, results).
func TestInProcessMemory(t *testing.T) {
	dir := npmDir(t)
	data := t.TempDir()
	s := Server{Name: "memory", Command: "/usr/bin/node", Args: []string{serverJS(dir, "server-memory")},
		Env: map[string]string{"MEMORY_FILE_PATH": filepath.Join(data, "memory.jsonl")}}
	a := newApp(s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env := appstest.NewEnv()
	sp, err := a.Describe(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	s.Tools = sp.Functions
	for _, f := range sp.Functions {
		t.Logf("%s: %s [%s]", f.Name, f.Hints, f.Effect)
	}
	a = newApp(s)
	defer a.Close()
	out, err := appstest.Call(t, env, a, "memory__create_entities", `{"entities":[{"name":"Alex","entityType":"person","observations":["likes tea"]}]}`)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("create: %s", out)
	out, err = appstest.Call(t, env, a, "memory__read_graph", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	t.Logf("read: %s", out)
}
