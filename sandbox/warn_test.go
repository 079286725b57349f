//go:build linux

package sandbox

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
)

// recordHandler keeps every record's level and message.
type recordHandler struct {
	mu   sync.Mutex // guards recs
	recs []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// count returns how many records of level have msg, by app.
func (h *recordHandler) count(level slog.Level, msg string) map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for _, r := range h.recs {
		if r.Level != level || r.Message != msg {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "app" {
				out[a.Value.String()]++
			}
			return true
		})
	}
	return out
}

// TestExecWarningOncePerApp: the "may run programs" warning is a WARN the
// first time an app's spoke gets exec, and Debug for every later start
// of that app (an MCP server starts one per invocation), so a CI log is
// not flooded and the information stays in a debug log.
func TestExecWarningOncePerApp(t *testing.T) {
	h := &recordHandler{}
	s, err := New(Config{Logger: slog.New(h), Stderr: io.Discard})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("sandbox unavailable under CI: %v", err)
		}
		t.Skipf("sandbox unavailable on this host: %v", err)
	}
	defer s.Close()
	for _, app := range []string{"test.a", "test.a", "test.a", "test.b"} {
		outs, err := run(t, s, Policy{App: app, Args: []string{"ready"}, AllowExec: true})
		if err != nil || len(outs) != 1 || !outs[0].OK {
			t.Fatalf("%s: outcomes %+v, wait %v", app, outs, err)
		}
	}
	const msg = "sandbox: less restrictive: spoke may run programs (exec, fork, wait)"
	warn, debug := h.count(slog.LevelWarn, msg), h.count(slog.LevelDebug, msg)
	if warn["test.a"] != 1 || warn["test.b"] != 1 || len(warn) != 2 {
		t.Errorf("WARN records by app %v, want one for each of test.a and test.b", warn)
	}
	if debug["test.a"] != 2 || len(debug) != 1 {
		t.Errorf("Debug records by app %v, want test.a's two later starts", debug)
	}
}
