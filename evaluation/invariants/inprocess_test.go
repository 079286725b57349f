package invariants

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/hub"
)

// TestEpisodesInProcess: episodes with in-process spokes run the hub's
// logic as the sandboxed ones do (spokes, prompts, frames, hostile apps
// that write raw frames and exit) and hold every invariant; the report
// says how spokes ran and what the machine was doing.
func TestEpisodesInProcess(t *testing.T) {
	n := 20
	if testing.Short() {
		n = 8
	}
	rep, err := Run(context.Background(), Options{Spokes: SpokesInProcess, Episodes: n, Seed: 3, Only: -1, Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = WriteText(&b, rep)
	t.Log(b.String())
	if rep.Episodes != n || rep.Spokes == 0 || rep.Prompts == 0 || rep.Frames == 0 {
		t.Fatalf("episodes %d of %d, spokes %d, prompts %d, frames %d", rep.Episodes, n, rep.Spokes, rep.Prompts, rep.Frames)
	}
	if rep.Violations > 0 {
		t.Fatalf("%d invariant violations", rep.Violations)
	}
	if !strings.Contains(b.String(), "spokes: inprocess") || !strings.Contains(b.String(), "load average") || !strings.Contains(b.String(), "network namespaces") {
		t.Errorf("report lacks the spokes mode or the machine state:\n%s", b.String())
	}
	if _, err := Run(context.Background(), Options{Spokes: "threads", Episodes: 1, Only: -1}); err == nil {
		t.Error("an unknown spokes mode was accepted")
	}
}

// TestInProcessLiveness: I5 means the same in-process: a spoke the hub
// started and neither ended nor killed is found as left running, and one
// it killed is released.
func TestInProcessLiveness(t *testing.T) {
	rec := &recorder{}
	sp := inProcessSource{pids: new(atomic.Int64)}.episode(rec)
	s, err := sp.spawner.Start(context.Background(), hub.SpokeSpec{App: appA})
	if err != nil {
		t.Fatal(err)
	}
	rec.add(&event{kind: evSpokeStart, user: alice, app: appA, pid: s.PID()})
	leaked, _ := waitSpokes(rec, sp.released, 50*time.Millisecond, 50*time.Millisecond)
	if leaked == "" {
		t.Fatal("a spoke waiting for its task forever was not found left running")
	}
	s.Kill("test")
	if err := s.Wait(); err == nil {
		t.Log("killed spoke ended cleanly")
	}
	if !sp.released(s.PID()) {
		t.Fatal("a killed and reaped spoke is not released")
	}
	if s.PID() < firstFakePID {
		t.Errorf("in-process spoke PID %d could name a real process", s.PID())
	}
	if _, err := sp.spawner.Start(context.Background(), hub.SpokeSpec{App: "mcp", AllowExec: true}); err == nil {
		t.Error("a policy that needs a process started in-process")
	}
	waitRelays(sp.relays, 5*time.Second)
}
