//go:build linux

package sandbox

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRearm: a disarmed spoke outlives its wall-clock bound (a warm spoke
// waiting for its next invocation), and a rearmed one is killed by the new
// bound, with the wall-clock reason.
func TestRearm(t *testing.T) {
	s := newSpawner(t, Config{})
	defer s.Close()
	pr, err := s.Start(context.Background(), Policy{App: "test.hang", Args: []string{"hang"}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	pr.Rearm(0)
	time.Sleep(500 * time.Millisecond)
	if err := syscall.Kill(pr.PID, 0); err != nil || pr.KillReason() != "" {
		t.Fatalf("disarmed spoke gone after its first bound: %v, reason %q", err, pr.KillReason())
	}
	start := time.Now()
	pr.Rearm(300 * time.Millisecond)
	werr := pr.Wait()
	var ee *ExitError
	if !errors.As(werr, &ee) || !strings.Contains(ee.Reason, "wall-clock timeout 300ms") {
		t.Fatalf("rearmed spoke ended with %v", werr)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("killed after %s, before its new bound", d)
	}
}
