package sandbox

import (
	"bytes"
	"context"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// TestForkServerCarriesNoCallerLabels: the fork server is started by
// whichever spawn comes first and then serves every later one, so its
// goroutines must not carry that first caller's profiler labels. The
// invariant harness finds what an episode left running by its label; a
// fork server started inside an episode made that episode look leaky
// (I5, "goroutines outlived the episode": forkserver.(*Client).read).
func TestForkServerCarriesNoCallerLabels(t *testing.T) {
	s := newSpawner(t, Config{Pool: 0})
	defer s.Close()
	const key, val = "secgpt-test", "first-caller"
	pprof.Do(context.Background(), pprof.Labels(key, val), func(context.Context) {
		if outs, err := run(t, s, Policy{Args: []string{"ready"}}); err != nil || len(outs) != 1 || !outs[0].OK {
			t.Fatalf("outcomes %+v, wait %v", outs, err)
		}
	})
	want := `"` + key + `":"` + val + `"`
	var left string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var b bytes.Buffer
		if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
			t.Fatal(err)
		}
		left = ""
		for _, block := range strings.Split(b.String(), "\n\n") {
			if strings.Contains(block, want) {
				left += block + "\n\n"
			}
		}
		if left == "" || time.Now().After(deadline) {
			break
		}
	}
	if left != "" {
		t.Fatalf("goroutines still carry the first caller's labels after its spoke ended:\n%s", left)
	}
}

// TestPoolCarriesNoCallerLabels: the pool's goroutines (starting spokes
// ahead of need, ending the ones no longer wanted) run on the spawner's
// behalf, not on that of the turn whose Prepare or release set them off,
// so they carry none of its profiler labels. The invariant harness found
// them under an episode's label and had to skip them by function name.
func TestPoolCarriesNoCallerLabels(t *testing.T) {
	s := newSpawner(t, Config{PoolMemory: 8 * DefaultIdleSpokeMemory})
	defer s.Close()
	const key, val = "secgpt-test", "planning-turn"
	want := `"` + key + `":"` + val + `"`
	labelled := func() string {
		var b bytes.Buffer
		if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
			t.Fatal(err)
		}
		var out string
		for _, block := range strings.Split(b.String(), "\n\n") {
			if strings.Contains(block, want) && strings.Contains(block, "sandbox.(*Spawner)") {
				out += block + "\n\n"
			}
		}
		return out
	}
	var releases []func()
	seen := ""
	pprof.Do(context.Background(), pprof.Labels(key, val), func(context.Context) {
		for range 8 {
			releases = append(releases, s.Prepare())
		}
		// While the pool fills, look at its goroutines.
		for deadline := time.Now().Add(2 * time.Second); seen == "" && time.Now().Before(deadline); {
			seen = labelled()
			if _, filling, _ := poolState(s); filling == 0 {
				break
			}
		}
		waitPool(t, s, 8, 8)
		for _, r := range releases {
			r() // ends the spokes no longer wanted, from this labelled goroutine
		}
		if seen == "" {
			seen = labelled()
		}
	})
	if seen != "" {
		t.Fatalf("the pool's goroutines carry the labels of the turn that set them off:\n%s", seen)
	}
}
