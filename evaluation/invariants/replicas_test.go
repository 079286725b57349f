package invariants

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/state/redistest"
	"github.com/secgpt-go/secgpt/sandbox"
	"github.com/secgpt-go/secgpt/sandbox/hubspawn"
)

// TestReplicaEpisodes runs adversarial episodes on three hubs sharing one
// real Redis, each message and answer on a random replica and the Redis
// connections cut at random points, and fails on any violation (I11, the
// outcome shown is the one stored, included).
// SECGPT_INVARIANTS_REPLICA_EPISODES sets how many (scripts/test.sh runs
// 200).
func TestReplicaEpisodes(t *testing.T) {
	n := 6
	if s := os.Getenv("SECGPT_INVARIANTS_REPLICA_EPISODES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("SECGPT_INVARIANTS_REPLICA_EPISODES=%q: want a positive number", s)
		}
		n = v
	}
	url := redistest.Server(t)
	sp, err := sandbox.New(sandbox.Config{DefaultTimeout: 60 * time.Second, Pool: 4})
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	defer sp.Close()
	rep, err := Run(context.Background(), Options{Spawner: hubspawn.New(sp), Episodes: n, Seed: 7, Only: -1, Parallel: 2, MaxReported: 5,
		Replicas: 3, RedisURL: url})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = WriteText(&b, rep)
	t.Log(b.String())
	if rep.Episodes != n || rep.Prompts == 0 {
		t.Fatalf("ran %d episodes (want %d), %d prompts", rep.Episodes, n, rep.Prompts)
	}
	if rep.Violations > 0 {
		t.Fatalf("%d invariant violations", rep.Violations)
	}
}
