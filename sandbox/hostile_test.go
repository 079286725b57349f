//go:build linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// auditLog collects egress decisions.
type auditLog struct {
	mu  sync.Mutex // guards got
	got []string
}

func (a *auditLog) record(_ context.Context, app, host string, allowed bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, fmt.Sprintf("%s %s %v", app, host, allowed))
}

func (a *auditLog) has(s string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, g := range a.got {
		if g == s {
			return true
		}
	}
	return false
}

// TestHostileSpokes runs each hostile action in a real sandboxed spoke and
// checks that it fails with a clear error (or that the spoke is killed
// with a named reason), and that the benign actions still work.
func TestHostileSpokes(t *testing.T) {
	audit := &auditLog{}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.Host)
	}))
	defer upstream.Close()
	// Every declared domain "resolves" to the local upstream.
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, upstream.Listener.Addr().String())
	}
	s := newSpawner(t, Config{Audit: audit.record, EgressDial: dial})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()

	// A world-readable secret outside /tmp stands for the store and the LLM
	// key: only Landlock stands between it and the spoke.
	secretDir, err := os.MkdirTemp("/var/tmp", "secgpt-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(secretDir)
	secret := filepath.Join(secretDir, "llm.key")
	if err := os.WriteFile(secret, []byte("sk-secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(secretDir, 0o755)
	hostTmp, err := os.CreateTemp("", "secgpt-host-marker-")
	if err != nil {
		t.Fatal(err)
	}
	hostTmp.Close()
	defer os.Remove(hostTmp.Name())

	hub := strconv.Itoa(os.Getpid())
	denied := func(want ...string) func(t *testing.T, outs []outcome, err error) {
		return func(t *testing.T, outs []outcome, err error) {
			if err != nil || len(outs) != 1 {
				t.Fatalf("want one clean outcome, got %+v (wait: %v)", outs, err)
			}
			if outs[0].OK {
				t.Fatalf("hostile action succeeded: %+v", outs[0])
			}
			for _, w := range want {
				if !strings.Contains(outs[0].Err+" "+outs[0].Detail, w) {
					t.Fatalf("error %q (detail %q) does not say %q", outs[0].Err, outs[0].Detail, w)
				}
			}
		}
	}
	killed := func(reason string) func(t *testing.T, outs []outcome, err error) {
		return func(t *testing.T, outs []outcome, err error) {
			for _, o := range outs {
				if o.OK {
					t.Fatalf("hostile action succeeded: %+v", o)
				}
			}
			var ee *ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("want the spoke killed (%s), got outcomes %+v, wait %v", reason, outs, err)
			}
			t.Logf("killed: %v", err)
			if reason != "" && !strings.Contains(ee.Reason, reason) {
				t.Fatalf("killed for %q (%v), want %q", ee.Reason, err, reason)
			}
		}
	}
	worked := func(detail string) func(t *testing.T, outs []outcome, err error) {
		return func(t *testing.T, outs []outcome, err error) {
			if err != nil || len(outs) != 1 || !outs[0].OK || !strings.Contains(outs[0].Detail, detail) {
				t.Fatalf("want success with %q, got %+v (wait: %v)", detail, outs, err)
			}
		}
	}
	const eperm = "operation not permitted"
	tests := []struct {
		name  string
		pol   Policy
		check func(t *testing.T, outs []outcome, err error)
		audit string // an entry the audit log must then hold
	}{
		{"exec /bin/sh", Policy{Args: []string{"exec"}}, denied(eperm), ""},
		{"read /etc/shadow", Policy{Args: []string{"read", "/etc/shadow"}}, denied("permission denied"), ""},
		{"read the hub's environ", Policy{Args: []string{"read", "/proc/" + hub + "/environ"}}, denied(), ""},
		{"read a world-readable secret outside /tmp", Policy{Args: []string{"read", secret}}, denied("permission denied"), ""},
		{"see the host's /tmp", Policy{Args: []string{"stat", hostTmp.Name()}}, denied("no such file"), ""},
		{"write a 2 GiB file", Policy{Args: []string{"bigfile"}}, denied("file too large", "wrote 16 MiB"), ""},
		{"allocate 4 GiB", Policy{Args: []string{"alloc"}}, killed(""), ""},
		{"fork", Policy{Args: []string{"fork"}}, denied(eperm), ""},
		{"thread bomb", Policy{Args: []string{"threads"}, Limits: Limits{Procs: 32}}, killed(""), ""},
		{"busy loop", Policy{Args: []string{"cpu"}, Limits: Limits{CPU: time.Second}}, killed("CPU time limit exceeded"), ""},
		{"hang", Policy{Args: []string{"hang"}, Timeout: 300 * time.Millisecond}, killed("wall-clock timeout"), ""},
		{"connect to the hub's TCP port", Policy{Args: []string{"tcp", ln.Addr().String()}}, denied(eperm), ""},
		{"open an inet socket", Policy{Args: []string{"socket"}}, denied(eperm), ""},
		{"signal the hub", Policy{Args: []string{"kill", hub}}, denied(eperm), ""},
		{"ptrace the hub", Policy{Args: []string{"ptrace", hub}}, killed("forbidden system call"), ""},
		{"process_vm_readv the hub", Policy{Args: []string{"vmread", hub}}, killed("forbidden system call"), ""},
		{"unshare", Policy{Args: []string{"unshare"}}, killed("forbidden system call"), ""},
		{"http to an undeclared domain", Policy{App: "weather", Domains: []string{"example.com"}, Ports: []int{80}, Args: []string{"http", "http://evil.test/steal"}}, denied("403", "evil.test"), "weather evil.test:80 false"},
		{"http to an undeclared port", Policy{App: "weather", Domains: []string{"example.com"}, Args: []string{"http", "http://api.example.com/forecast"}}, denied("403", `port 80 refused`), "weather api.example.com:80 false"},
		{"https to an undeclared domain", Policy{App: "weather", Domains: []string{"example.com"}, Args: []string{"http", "https://evil.test/steal"}}, denied("evil.test", "refused"), "weather evil.test false"},
		{"http without declared domains", Policy{Args: []string{"http", "http://api.example.com/"}}, denied("no network access"), ""},
		{"benign: private /tmp", Policy{Args: []string{"tmp"}}, worked("spoke"), ""},
		{"benign: http to a declared domain", Policy{App: "weather", Domains: []string{"example.com"}, Ports: []int{80}, Args: []string{"http", "http://api.example.com/forecast"}}, worked("hello from api.example.com"), "weather api.example.com:80 true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.pol.Args[0] == "alloc" && raceEnabled && s.host.cg.kind == "" {
				// Known and reported by the doctor, not a missing feature.
				t.Skip("race-enabled spokes have no hard memory bound without a writable cgroup (docs/sandbox.md)")
			}
			outs, err := run(t, s, tc.pol)
			tc.check(t, outs, err)
			if tc.audit != "" && !audit.has(tc.audit) {
				t.Errorf("audit log lacks %q: %v", tc.audit, audit.got)
			}
		})
	}
	select {
	case <-accepted:
		t.Error("a spoke reached the hub's TCP listener")
	default:
	}
}
