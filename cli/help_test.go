package cli

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/config"
)

// Every command answers --help with its own help and exit 0, before the
// config is read and without doing what the command does.
func TestCommandHelp(t *testing.T) {
	cmds := []string{"chat", "slack", "matrix", "eval", "doctor", "audit", "config", "healthcheck", "mcp", "version", "help"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "mcp import reads no file named --help", args: []string{"mcp", "import", "--help"}, want: "secgpt mcp import [--print] [--force] [--no-names] FILE"},
		{name: "mcp pins", args: []string{"mcp", "pins", "--help"}, want: "secgpt mcp pins"},
		{name: "mcp approve", args: []string{"mcp", "approve", "--help"}, want: "secgpt mcp approve SERVER"},
		{name: "eval subcommand", args: []string{"eval", "invariants", "-h"}, want: "secgpt eval invariants [--episodes N]"},
		{name: "help COMMAND", args: []string{"help", "doctor"}, want: "usage: secgpt [global flags] doctor"},
		{name: "after a global flag", args: []string{"--user", "bob", "chat", "--help"}, want: "usage: secgpt [global flags] chat"},
	}
	for _, c := range cmds {
		tests = append(tests, struct {
			name string
			args []string
			want string
		}{name: c, args: []string{c, "--help"}, want: "secgpt "})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A config that cannot load: help must not need one.
			env := map[string]string{"SECGPT_SANDBOX": "maybe"}
			code, out, errOut := runCLI(t, "hello\n", env, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d, want 0\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			if !strings.Contains(out, "usage: ") || !strings.Contains(out, tt.want) {
				t.Errorf("stdout lacks %q:\n%s", tt.want, out)
			}
			if strings.Contains(out, "model:") || strings.Contains(errOut, "mcp import") {
				t.Errorf("the command ran instead of showing help:\nstdout: %s\nstderr: %s", out, errOut)
			}
		})
	}
	if !strings.Contains(usage, "  version ") {
		t.Error("secgpt help does not list version")
	}
}

// Global flags work after the command as before it.
func TestGlobalFlagsAfterCommand(t *testing.T) {
	code, out, errOut := runCLI(t, "", nil, "config", "--log-level", "debug")
	if code != 0 || !strings.Contains(out, "level: debug") {
		t.Fatalf("config --log-level debug: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "", nil, "config", "--log-format=json")
	if code != 0 || !strings.Contains(out, "format: json") {
		t.Fatalf("config --log-format=json: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	// audit's own --user is a filter, not the terminal user.
	code, out, errOut = runCLI(t, "", nil, "audit", "--user", "slack:T1/U1")
	if code != 0 || !strings.Contains(out, "TIME") {
		t.Fatalf("audit --user: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

func TestLiftGlobals(t *testing.T) {
	tests := []struct {
		name          string
		args          []string
		own           map[string]bool
		globals, rest string
	}{
		{name: "none", args: []string{"invariants", "--episodes", "5"}, rest: "invariants --episodes 5"},
		{name: "value apart", args: []string{"--user", "bob", "-x"}, globals: "--user bob", rest: "-x"},
		{name: "value joined and bool", args: []string{"a", "-config=c.yaml", "--vanilla", "b"}, globals: "-config=c.yaml --vanilla", rest: "a b"},
		{name: "own flag stays", args: []string{"--user", "u", "--log-level", "warn"}, own: map[string]bool{"user": true}, globals: "--log-level warn", rest: "--user u"},
		{name: "after --", args: []string{"--", "--user", "x"}, rest: "-- --user x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, r := liftGlobals(tt.args, tt.own)
			if strings.Join(g, " ") != tt.globals || strings.Join(r, " ") != tt.rest {
				t.Fatalf("liftGlobals(%q) = %q, %q; want %q, %q", tt.args, g, r, tt.globals, tt.rest)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "", nil, "version")
	if code != 0 || !strings.HasPrefix(out, "secgpt ") || !strings.Contains(out, "go1.") || !strings.Contains(out, "revision ") {
		t.Fatalf("secgpt version: exit %d, %q", code, out)
	}
}

// A second process on the same bolt file is told which process holds it.
func TestStoreLockedNamesHolder(t *testing.T) {
	cfg := config.Default()
	cfg.Store.Path = filepath.Join(t.TempDir(), "state", "secgpt.db")
	st, err := openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = openStore(context.Background(), cfg)
	if err == nil {
		t.Fatal("second open of a held bolt file succeeded")
	}
	if want := "in use by process " + strconv.Itoa(os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}
