//go:build linux

package mcp

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/sandbox/hubspawn"
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

// TestArgPathsKeepRealOwners: cli/ mounts every absolute path a server's
// arguments name (RealOwners, as mcpServer builds them). A root hub used
// to idmap those copies, so root-owned files appeared the spoke's own: the
// real filesystem server given /etc read /etc/shadow. Now the spoke gets
// what any other unprivileged user gets: world-readable files, not a
// root-only file in the same directory.
func TestArgPathsKeepRealOwners(t *testing.T) {
	dir := npmDir(t)
	h := newHarness(t)
	files, err := os.MkdirTemp("/var/tmp", "secgpt-owners-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(files) })
	if err := os.Chmod(files, 0o755); err != nil {
		t.Fatal(err)
	}
	public, secret := filepath.Join(files, "public.txt"), filepath.Join(files, "secret.txt")
	if err := os.WriteFile(public, []byte("anyone may read this"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret, []byte("only its owner may read this"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := node(dir, "server-filesystem", files, "/etc")
	s.HideRoots = true
	pol := func(user ids.UserID) hub.SpokeSpec {
		p := h.policy(s, user)
		for _, a := range []string{dir, files, "/etc"} {
			p.Mounts = append(p.Mounts, hub.Mount{Source: a, RealOwners: true})
		}
		return p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err = Discover(ctx, testStarter(hubspawn.New(h.sp), pol("discovery")), s)
	if err != nil {
		t.Fatalf("discover: %v\nspoke output:\n%s", err, h.log)
	}
	cfg, _ := json.Marshal(s)
	read := func(path string) Result {
		t.Helper()
		res, _, err := h.invoke(s.ID(), cfg, pol("u:a"), "filesystem__read_text_file", `{"path":"`+path+`"}`, 1)
		if err != nil {
			t.Fatalf("read %s: %v\nspoke output:\n%s", path, err, h.log)
		}
		var r Result
		if err := json.Unmarshal(res, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := read(public); r.IsError || !strings.Contains(r.Text, "anyone may read") {
		t.Errorf("a world-readable file named in the args is not readable: %+v", r)
	}
	if r := read("/etc/hosts"); r.IsError {
		t.Errorf("/etc/hosts is not readable: %+v", r)
	}
	tests := []string{secret}
	if _, err := os.Stat("/etc/shadow"); err == nil {
		tests = append(tests, "/etc/shadow")
	}
	for _, p := range tests {
		r := read(p)
		if !r.IsError || !strings.Contains(r.Text, "EACCES") {
			t.Errorf("the server read %s, which only its owner may (is_error %v): %.80q", p, r.IsError, r.Text)
		}
	}
}
