package bolt_test

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/bolt"
	"github.com/secgpt-go/secgpt/core/state/statetest"
)

func open(t *testing.T, opts bolt.Options) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	statetest.Run(t,
		func(t *testing.T) state.Store { return open(t, bolt.Options{}) },
		statetest.WithClock(func(t *testing.T, retention time.Duration, now func() time.Time) state.Store {
			return open(t, bolt.Options{MemoryRetention: retention, Now: now})
		}),
		statetest.WithReopen(func(t *testing.T, s state.Store) state.Store {
			path := s.(*bolt.Store).Path()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, err := bolt.Open(path, bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s2
		}),
	)
}

func TestDedupExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := open(t, bolt.Options{Now: clock})
	defer s.Close()
	steps := []struct {
		name    string
		advance time.Duration
		ttl     time.Duration
		want    bool
	}{
		{"first", 0, time.Minute, true},
		{"within ttl", 59 * time.Second, time.Minute, false},
		{"after ttl", 2 * time.Second, time.Minute, true},
		{"forever", 0, 0, false}, // still within the renewed minute
		{"long after", time.Hour, 0, true},
		{"no ttl keeps forever", 1000 * time.Hour, 0, false},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		got, err := s.FirstSeen(t.Context(), "ev", st.ttl)
		if err != nil {
			t.Fatal(err)
		}
		if got != st.want {
			t.Errorf("%s: FirstSeen = %v, want %v", st.name, got, st.want)
		}
	}
}

func TestSecondOpenFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s2, err := bolt.Open(path, bolt.Options{LockTimeout: 50 * time.Millisecond})
	if err == nil {
		s2.Close()
		t.Fatal("second Open of a held file succeeded")
	}
}

// TestDedupPurge checks that expired dedup keys are deleted while running,
// not only at the next Open.
func TestDedupPurge(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := open(t, bolt.Options{Now: func() time.Time { return now }})
	defer s.Close()
	s.SetPurgeEvery(16)
	ctx := t.Context()
	for i := range 40 {
		if _, err := s.FirstSeen(ctx, "old-"+strconv.Itoa(i), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(time.Hour)
	for i := range 40 {
		if _, err := s.FirstSeen(ctx, "new-"+strconv.Itoa(i), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.DedupKeys(); n > 40+16 {
		t.Errorf("%d dedup keys kept after the old ones expired, want the expired purged", n)
	}
}
