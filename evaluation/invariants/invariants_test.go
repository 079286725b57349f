package invariants

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/apps/mcp"
	"github.com/secgpt-go/secgpt/core/spoke"
	"github.com/secgpt-go/secgpt/sandbox"
	"github.com/secgpt-go/secgpt/sandbox/confine"
	"github.com/secgpt-go/secgpt/sandbox/hubspawn"
)

func TestMain(m *testing.M) {
	if sandbox.IsChild() {
		RegisterApps()
		mcp.Register()
		os.Exit(spoke.Run(confine.EnterSpoke))
	}
	os.Exit(m.Run())
}

// TestEpisodes runs adversarial episodes against the real hub and fails on
// any violation. SECGPT_INVARIANTS_EPISODES sets how many (CI runs 1000
// without -race; the default keeps -race runs to a couple of minutes).
func TestEpisodes(t *testing.T) {
	n := 12
	if testing.Short() {
		n = 6
	}
	if s := os.Getenv("SECGPT_INVARIANTS_EPISODES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("SECGPT_INVARIANTS_EPISODES=%q: want a positive number", s)
		}
		n = v
	}
	seed := uint64(1)
	if s := os.Getenv("SECGPT_INVARIANTS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SECGPT_INVARIANTS_SEED=%q: %v", s, err)
		}
		seed = v
	}
	// Spokes are also started while turns plan (PoolMemory), as a
	// deployment does by default, so that I14 sees them claimed.
	sp, err := sandbox.New(sandbox.Config{DefaultTimeout: 60 * time.Second, Pool: 2, PoolMemory: 64 << 20})
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	defer sp.Close()
	rep, err := Run(context.Background(), Options{Spawner: hubspawn.New(sp), Episodes: n, Seed: seed, Only: -1, Parallel: 4, MaxReported: 5})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = WriteText(&b, rep)
	t.Log(b.String())
	if rep.Episodes != n {
		t.Fatalf("ran %d episodes, want %d", rep.Episodes, n)
	}
	if rep.Spokes == 0 || rep.Prompts == 0 {
		t.Fatalf("episodes ran no spokes or showed no prompts: %+v", rep)
	}
	if rep.Violations > 0 {
		t.Fatalf("%d invariant violations", rep.Violations)
	}
}

// TestStopDrains: a run stopped by Stop covers one contiguous range of
// episodes starting at From, every one of them finished and checked (none
// cut short into "the hub did not answer").
func TestStopDrains(t *testing.T) {
	sp, err := sandbox.New(sandbox.Config{DefaultTimeout: 60 * time.Second, Pool: 4})
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	defer sp.Close()
	stop := make(chan struct{})
	rep, err := Run(context.Background(), Options{Spawner: hubspawn.New(sp), Episodes: 1000, From: 40, Seed: 1, Only: -1, Parallel: 2,
		Stop: stop, Progress: closer{stop}, ProgressEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Episodes < 1 || rep.Episodes > 3 {
		t.Fatalf("ran %d episodes after a stop at the first to finish, want 1 to 3 (those running)", rep.Episodes)
	}
	if rep.From != 40 || rep.To != 40+rep.Episodes || rep.Cut {
		t.Fatalf("report covers %d…%d (cut %v) for %d episodes from 40", rep.From, rep.To, rep.Cut, rep.Episodes)
	}
	if rep.Violations > 0 {
		t.Fatalf("%d violations in a drained run: %+v", rep.Violations, rep.Reported)
	}

	closedStop := make(chan struct{})
	close(closedStop)
	rep, err = Run(context.Background(), Options{Spawner: hubspawn.New(sp), Episodes: 10, From: 7, Seed: 1, Only: -1, Parallel: 2, Stop: closedStop})
	if err != nil || rep.Episodes != 0 || rep.From != 7 || rep.To != 7 {
		t.Fatalf("run stopped before it began: %d episodes, %d…%d, err %v; want none, 7…7", rep.Episodes, rep.From, rep.To, err)
	}
	if _, err := Run(context.Background(), Options{Spawner: hubspawn.New(sp), Episodes: 1, From: -1, Only: -1}); err == nil {
		t.Fatal("a negative first episode was accepted")
	}
}

// closer closes its channel at the first progress line.
type closer struct{ c chan struct{} }

func (c closer) Write(p []byte) (int, error) {
	select {
	case <-c.c:
	default:
		close(c.c)
	}
	return len(p), nil
}
