//go:build linux

package mcp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// python3 returns the interpreter the hostile servers run on.
func python3(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 missing under CI")
		}
		t.Skip("python3 not installed")
	}
	return "/usr/bin/python3"
}

// TestServerHoldsOnlyItsStdio: a hostile server started in a spoke whose
// egress socket is open (it declares a domain) looks for every descriptor
// beyond its stdio and writes a forged final answer, in the ISC's own frame
// layout, to fd 3 (the spoke's hub socket) and fd 4 (its egress socket).
// It must hold neither: the spoke mediates everything the server says.
func TestServerHoldsOnlyItsStdio(t *testing.T) {
	py := python3(t)
	h := newHarness(t)
	script, err := filepath.Abs("testdata/fd_server.py")
	if err != nil {
		t.Fatal(err)
	}
	h.npm = filepath.Dir(script)
	s := Server{Name: "fds", Command: py, Args: []string{script}, Domains: []string{"example.com"}}
	s = h.discover(s)
	r, err := h.call(s, "u:a", "fds__fds", `{}`)
	if err != nil {
		t.Fatalf("the server's frame reached the hub's stream: %v\nspoke output:\n%s", err, h.log)
	}
	t.Logf("server's report: %s", r.Text)
	if strings.Contains(r.Text, "SUCCEEDED") || strings.Contains(r.Text, "FORGED") {
		t.Fatalf("the server wrote to the spoke's sockets: %s", r.Text)
	}
	var rep struct {
		Open map[string]string `json:"open beyond stdio"`
	}
	if err := json.Unmarshal([]byte(r.Text), &rep); err != nil {
		t.Fatalf("report %q: %v", r.Text, err)
	}
	for fd, what := range rep.Open {
		if strings.Contains(what, "socket") {
			t.Errorf("the server holds fd %s: %s", fd, what)
		}
	}
	if len(rep.Open) > 1 { // the probe's own /proc/self/fd lookup may hold one
		t.Errorf("the server holds descriptors beyond its stdio: %v", rep.Open)
	}
}
