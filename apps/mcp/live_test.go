//go:build linux

package mcp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/apps/appstest"
)

// TestRedefinedToolRefused: a server that describes a tool otherwise when
// it is started for a call than when its tools were listed and approved
// (a rug pull) gets no call of that tool.
func TestRedefinedToolRefused(t *testing.T) {
	script := hostileScript(t)
	h := newHarness(t)
	h.npm = filepath.Dir(script)
	s := h.discover(Server{Name: "hostile", Command: "/usr/bin/python3", Args: []string{script}})
	if r := h.mustCall(s, "u:a", "hostile__add", `{"a":2,"b":3}`); !strings.HasPrefix(r.Text, "5 ") {
		t.Fatalf("the approved definition's call: %q", r.Text)
	}
	redefined := s
	redefined.Env = map[string]string{"HOSTILE_REDEFINE": "1"}
	if r, err := h.call(redefined, "u:a", "hostile__add", `{"a":2,"b":3}`); err == nil {
		t.Fatalf("a redefined tool was called in its spoke: %+v", r)
	}
	// The same, outside a sandbox, for the reason the spoke's model was told.
	for _, tt := range []struct {
		name    string
		s       Server
		wantErr string
	}{
		{"as approved", s, ""},
		{"redefined", redefined, "changed since it was approved"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(tt.s)
			defer a.Close()
			_, err := appstest.Call(t, appstest.NewEnv(), a, "hostile__add", `{"a":2,"b":3}`)
			if (tt.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("call: %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// hostileScript is the path of the hostile Python server (testdata); the
// test is skipped without python3, and fails under CI.
func hostileScript(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 missing under CI")
		}
		t.Skip("python3 not installed")
	}
	script, err := filepath.Abs("testdata/hostile_server.py")
	if err != nil {
		t.Fatal(err)
	}
	return script
}
