//go:build linux

package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newSpawner returns a confining Spawner, or fails (CI) / skips the test
// where this host cannot confine spokes.
func newSpawner(t testing.TB, cfg Config) *Spawner {
	t.Helper()
	cfg.Logger = discardLogger()
	if cfg.Stderr == nil && os.Getenv("SECGPT_TEST_SPOKE_STDERR") == "" {
		cfg.Stderr = io.Discard // hostile spokes die noisily; set the variable to see it
	}
	s, err := New(cfg)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("sandbox unavailable under CI: %v", err)
		}
		t.Skipf("sandbox unavailable on this host: %v", err)
	}
	return s
}

// run starts a test spoke doing action and returns its outcome lines and
// the error Wait returned.
func run(t testing.TB, s *Spawner, p Policy) ([]outcome, error) {
	t.Helper()
	if p.App == "" {
		p.App = "test." + p.Args[0]
	}
	if p.Timeout == 0 {
		p.Timeout = 20 * time.Second
	}
	pr, err := s.Start(context.Background(), p)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	var outs []outcome
	sc := bufio.NewScanner(pr.Conn)
	for sc.Scan() {
		var o outcome
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("spoke wrote %q: %v", sc.Text(), err)
		}
		outs = append(outs, o)
	}
	return outs, pr.Wait()
}

func TestReady(t *testing.T) {
	for _, off := range []bool{false, true} {
		s := newSpawner(t, Config{Off: off})
		outs, err := run(t, s, Policy{Args: []string{"ready"}})
		if err != nil || len(outs) != 1 || !outs[0].OK {
			t.Fatalf("off=%v: outcomes %+v, wait %v", off, outs, err)
		}
	}
}

// TestSpokeGOMAXPROCS: a spoke's Go runtime has one P, on demand or
// pooled, whatever the machine has (a runtime with more spins threads up
// as it starts, which costs each spoke's start CPU).
func TestSpokeGOMAXPROCS(t *testing.T) {
	for _, pool := range []int{0, 1} {
		s := newSpawner(t, Config{Pool: pool})
		outs, err := run(t, s, Policy{Args: []string{"gomaxprocs"}})
		s.Close()
		if err != nil || len(outs) != 1 || outs[0].Detail != "1" {
			t.Fatalf("pool %d: outcomes %+v, wait %v, want GOMAXPROCS 1", pool, outs, err)
		}
	}
}

// TestUnprivileged reruns the spoke tests as an unprivileged user, which
// takes the other path: a user namespace mapping only the caller's uid,
// capabilities cleared instead of a uid switch, and (without a writable
// cgroup) the rlimit memory bound.
func TestUnprivileged(t *testing.T) {
	if os.Getenv("SECGPT_TEST_UNPRIV") != "" {
		t.Skip("already the unprivileged run")
	}
	if os.Getuid() != 0 {
		t.Skip("not root: the other tests already run unprivileged")
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "secgpt-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sandbox.test")
	src, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, src, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^(TestReady|TestHostileSpokes)$", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = []string{"SECGPT_TEST_UNPRIV=1", "CI=" + os.Getenv("CI"), "TMPDIR=" + os.TempDir()}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("unprivileged run: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "SKIP") {
		t.Logf("unprivileged run skipped tests:\n%s", out)
	}
}

// TestPool hands policies to pre-started spokes: each gets its own policy
// (limits, egress or none), and Close ends the idle ones.
func TestPool(t *testing.T) {
	s := newSpawner(t, Config{Pool: 2})
	tests := []struct {
		name string
		pol  Policy
		want func(outcome) bool
	}{
		{"ready", Policy{Args: []string{"ready"}}, func(o outcome) bool { return o.OK }},
		{"private tmp", Policy{Args: []string{"tmp"}, Limits: Limits{Memory: 1 << 30, Procs: 128}}, func(o outcome) bool { return o.OK && o.Detail == "spoke" }},
		{"no egress without domains", Policy{Args: []string{"http", "http://example.com/"}}, func(o outcome) bool {
			return !o.OK && strings.Contains(o.Err, "no network access")
		}},
		{"exec still denied", Policy{Args: []string{"exec"}}, func(o outcome) bool { return !o.OK }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			outs, err := run(t, s, tc.pol)
			if err != nil || len(outs) != 1 || !tc.want(outs[0]) {
				t.Fatalf("outcomes %+v, wait %v", outs, err)
			}
		})
	}
	s.mu.Lock()
	var idle []*Proc
	idle = append(idle, s.idle...)
	s.mu.Unlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range idle {
		if err := syscall.Kill(p.PID, 0); err == nil {
			t.Errorf("idle pooled spoke %d still alive after Close", p.PID)
		}
	}
}
