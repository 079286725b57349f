package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// start serves s on a loopback port and returns its base URL; the server
// stops when the test ends, and the test fails if it did not stop cleanly.
func start(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve after cancel: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// publicErr is a check error with a public reason.
type publicErr struct{ reason string }

func (e publicErr) Error() string  { return e.reason + ": open /etc/secret: denied" }
func (e publicErr) Public() string { return e.reason }

func TestEndpoints(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "secgpt_messages_total 3\n") })
	tests := []struct {
		name       string
		checks     map[string]Check
		path       string
		wantStatus int
		wantBody   string
	}{
		{name: "healthz", path: "/healthz", wantStatus: 200, wantBody: "ok"},
		{name: "readyz without checks", path: "/readyz", wantStatus: 200, wantBody: "{}"},
		{
			name:   "readyz all ok",
			checks: map[string]Check{"store": okCheck, "slack": okCheck},
			path:   "/readyz", wantStatus: 200, wantBody: `"slack":"ok","store":"ok"`,
		},
		{
			name:   "readyz one failing, error text not echoed",
			checks: map[string]Check{"store": okCheck, "matrix": failCheck("dial tcp 10.0.0.7:8448: refused")},
			path:   "/readyz", wantStatus: 503, wantBody: `"matrix":"not ready"`,
		},
		{
			name: "readyz failing with a public reason",
			checks: map[string]Check{"mcp.gh": func(context.Context) error {
				return publicErr{"secret GITHUB_TOKEN: environment variable GITHUB_TOKEN is unset or empty"}
			}},
			path: "/readyz", wantStatus: 503, wantBody: `"mcp.gh":"not ready: secret GITHUB_TOKEN: environment variable GITHUB_TOKEN is unset or empty"`,
		},
		{name: "metrics", path: "/metrics", wantStatus: 200, wantBody: "secgpt_messages_total 3"},
		{name: "unknown path", path: "/nope", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Options{Addr: "127.0.0.1:0", Metrics: metrics})
			if err != nil {
				t.Fatal(err)
			}
			for n, c := range tt.checks {
				s.AddCheck(n, c)
			}
			base := start(t, s)
			status, body := get(t, base+tt.path)
			if status != tt.wantStatus {
				t.Errorf("GET %s = %d, want %d (%s)", tt.path, status, tt.wantStatus, body)
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("GET %s body = %q, want it to contain %q", tt.path, body, tt.wantBody)
			}
			if strings.Contains(body, "10.0.0.7") {
				t.Errorf("readyz leaks a check's error: %s", body)
			}
		})
	}
}

func TestReadyzBoundsAHungCheck(t *testing.T) {
	s, err := New(Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	s.AddCheck("store", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	base := start(t, s)
	t0 := time.Now()
	status, body := get(t, base+"/readyz")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, `"store":"not ready"`) {
		t.Errorf("readyz with a hung check = %d %s, want 503 naming store", status, body)
	}
	if el := time.Since(t0); el > checkTimeout+3*time.Second {
		t.Errorf("readyz took %v with a hung check", el)
	}
}

func TestHandleMountsExtraHandlers(t *testing.T) {
	s, err := New(Options{Addr: "127.0.0.1:0", Metrics: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	cb := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "callback "+r.URL.Query().Get("code")) })
	if err := s.Handle("/oauth/callback", cb); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		h    http.Handler
		want string
	}{
		{"/oauth/callback", cb, "already in use"},
		{"/healthz", cb, "already in use"},
		{"/metrics", cb, "already in use"},
		{"oauth", cb, "starting with /"},
		{"/x", nil, "starting with /"},
	} {
		if err := s.Handle(tt.path, tt.h); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Handle(%q) = %v, want an error containing %q", tt.path, err, tt.want)
		}
	}
	base := start(t, s)
	if status, body := get(t, base+"/oauth/callback?code=abc"); status != 200 || body != "callback abc" {
		t.Errorf("mounted handler = %d %q", status, body)
	}
	if err := s.Handle("/late", cb); err == nil {
		t.Error("Handle after Serve succeeded, want an error")
	}
}

func TestNewRejectsBadAddr(t *testing.T) {
	for _, addr := range []string{"", "  ", "9090", "localhost"} {
		if _, err := New(Options{Addr: addr}); err == nil {
			t.Errorf("New(%q) succeeded", addr)
		}
	}
}

func TestRunReportsBindFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := New(Options{Addr: ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Run(ctx); err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Errorf("Run on a taken port = %v, want a listen error", err)
	}
}

func okCheck(context.Context) error { return nil }

func failCheck(msg string) Check {
	return func(context.Context) error { return errors.New(msg) }
}

// The readyz body is JSON.
func TestReadyzIsJSON(t *testing.T) {
	s, _ := New(Options{Addr: "127.0.0.1:0"})
	s.AddCheck("store", okCheck)
	base := start(t, s)
	_, body := get(t, base+"/readyz")
	var m map[string]string
	if err := json.Unmarshal([]byte(body), &m); err != nil || m["store"] != "ok" {
		t.Errorf("readyz body %q: %v", body, err)
	}
}
