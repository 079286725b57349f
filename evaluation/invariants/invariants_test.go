package invariants

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/spoke"
	"github.com/secgpt-go/secgpt/sandbox"
)

func TestMain(m *testing.M) {
	if sandbox.IsChild() {
		RegisterApps()
		os.Exit(spoke.Main(sandbox.EnterSpoke))
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
	sp, err := sandbox.New(sandbox.Config{DefaultTimeout: 60 * time.Second, Pool: 4})
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	defer sp.Close()
	rep, err := Run(context.Background(), Options{Spawner: sp, Episodes: n, Seed: seed, Only: -1, Parallel: 4, MaxReported: 5})
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
