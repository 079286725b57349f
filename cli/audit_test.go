package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// TestAuditWhileBotRuns: a running deployment holds the bolt file's lock;
// `secgpt audit` still answers, through the bot's audit socket.
func TestAuditWhileBotRuns(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Store.Path = filepath.Join(dir, "secgpt.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := build(ctx, cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Store.AppendAudit(ctx, state.AuditEvent{Type: vocab.AuditDecision, User: "terminal:alice", Kind: "exec", App: "quick_ride", Decision: "always"}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.Run(ctx) }()

	t.Setenv("SECGPT_STORE_PATH", cfg.Store.Path)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"audit", "--json", "--app", "quick_ride"}, strings.NewReader(""), &out, &errOut)
	if code != 0 {
		t.Fatalf("secgpt audit exit %d: %s", code, errOut.String())
	}
	var evs []state.AuditEvent
	if err := json.Unmarshal(out.Bytes(), &evs); err != nil {
		// auditcli may print one JSON object per line.
		evs = nil
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var e state.AuditEvent
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("audit --json output is not JSON: %q", out.String())
			}
			evs = append(evs, e)
		}
	}
	if len(evs) != 1 || evs[0].Decision != "always" || evs[0].User != "terminal:alice" {
		t.Errorf("audit while running = %+v, want the one decision", evs)
	}
}

// TestAuditWithoutAnyState: no file yet means an empty log, and no file is
// created by reading it.
func TestAuditWithoutAnyState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "never", "secgpt.db")
	t.Setenv("SECGPT_STORE_PATH", path)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"audit"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if _, err := filepath.Glob(path); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Dir(path)); len(m) != 0 {
		t.Errorf("audit created %v", m)
	}
}
