package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"
)

// newSpawner returns a confining Spawner, or fails (CI) / skips the test
// where this host cannot confine spokes.
func newSpawner(t testing.TB, cfg Config) *Spawner {
	t.Helper()
	cfg.Logger = discardLogger()
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
