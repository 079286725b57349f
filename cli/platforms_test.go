package cli

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/adapters/slack"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/memstore"
	"github.com/secgpt-go/secgpt/ops/server"
)

// TestFeedbackAudit: a Slack feedback click is one audit event of type
// "feedback" naming the clicker, the message and the verdict.
func TestFeedbackAudit(t *testing.T) {
	st := memstore.New(memstore.Options{})
	rec := feedbackAudit(st)
	for _, f := range []slack.Feedback{
		{User: "slack:T1/U1", Channel: "C1", MessageTS: "1.000001", Good: true},
		{User: "slack:T1/U2", Channel: "D2", MessageTS: "2.000001"},
	} {
		if err := rec(t.Context(), f); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := st.ReadAudit(t.Context(), state.AuditFilter{Type: "feedback"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].User != "slack:T1/U1" || evs[0].Decision != "good" || evs[0].Detail != "slack message C1/1.000001" ||
		evs[1].User != "slack:T1/U2" || evs[1].Decision != "bad" {
		t.Errorf("audit %+v", evs)
	}
}

// fakePlatform is a platform whose loop runs until ctx ends or stop is
// closed (then it returns err). It is a readier and a chat.Notifier.
type fakePlatform struct {
	started, stop, ready chan struct{}
	err                  error
}

func newFakePlatform(err error) *fakePlatform {
	return &fakePlatform{started: make(chan struct{}), stop: make(chan struct{}), ready: make(chan struct{}), err: err}
}

func (p *fakePlatform) Run(ctx context.Context) error {
	close(p.started)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.stop:
		return p.err
	}
}

func (p *fakePlatform) Ready() <-chan struct{} { return p.ready }

func (p *fakePlatform) Notify(context.Context, ids.UserID, chat.Notice) error { return nil }

// readyz is the listener's /readyz answer: its status and body.
func readyz(t *testing.T, srv *server.Server) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	return rec.Code, rec.Body.String()
}

// TestServePlatform: serve makes the adapter the way notices go, adds its
// /readyz check (not running, not connected, ready, not running again once
// its loop has returned) and returns the loop's error, none after ctx ends.
func TestServePlatform(t *testing.T) {
	srv, err := server.New(server.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	d := &deployment{Server: srv, log: discardLogger()}
	p := newFakePlatform(errors.New("token revoked"))
	done := make(chan error, 1)
	go func() { done <- d.serve(t.Context(), "matrix", p) }()
	<-p.started
	if code, body := readyz(t, srv); code != http.StatusServiceUnavailable || !strings.Contains(body, `"matrix":"not ready"`) {
		t.Errorf("before connecting: /readyz %d %s", code, body)
	}
	close(p.ready)
	if code, body := readyz(t, srv); code != http.StatusOK || !strings.Contains(body, `"matrix":"ok"`) {
		t.Errorf("connected: /readyz %d %s", code, body)
	}
	d.notices.mu.Lock()
	n := d.notices.n
	d.notices.mu.Unlock()
	if n != chat.Notifier(p) {
		t.Errorf("notices go to %v, want the platform", n)
	}
	close(p.stop)
	if err := <-done; err == nil || err.Error() != "token revoked" {
		t.Errorf("serve returned %v, want the loop's error", err)
	}
	if code, body := readyz(t, srv); code != http.StatusServiceUnavailable || !strings.Contains(body, `"matrix":"not ready"`) {
		t.Errorf("after the loop ended: /readyz %d %s", code, body)
	}

	// A cancelled loop is no error, and an unnamed platform (the
	// terminal) adds no check.
	srv2, err := server.New(server.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	d2 := &deployment{Server: srv2, log: discardLogger()}
	ctx, cancel := context.WithCancel(t.Context())
	p2 := newFakePlatform(nil)
	go func() { done <- d2.serve(ctx, "", p2) }()
	<-p2.started
	if code, body := readyz(t, srv2); code != http.StatusOK || strings.Contains(body, "not ready") {
		t.Errorf("terminal: /readyz %d %s", code, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve after cancel returned %v", err)
	}
}
