//go:build linux

package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// poolState is what the pool holds now.
func poolState(s *Spawner) (idle []int, filling, expected int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.idle {
		idle = append(idle, p.PID)
	}
	return idle, s.filling, s.expected
}

// waitPool waits until the pool holds want idle spokes with none being
// started, and fails if it ever holds more than bound meanwhile.
func waitPool(t *testing.T, s *Spawner, want, bound int) []int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		idle, filling, _ := poolState(s)
		if len(idle)+filling > bound {
			t.Fatalf("pool holds %d idle and %d starting, more than %d", len(idle), filling, bound)
		}
		if len(idle) == want && filling == 0 {
			return idle
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool holds %d idle and %d starting after 30 s, want %d idle", len(idle), filling, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPrepare: starts the hub expects raise the pool from Config.Pool to
// one spoke per expected start, never beyond what Config.PoolMemory holds;
// released, the pool falls back to Config.Pool and the spokes no longer
// wanted end.
func TestPrepare(t *testing.T) {
	tests := []struct {
		name   string
		pool   int
		memory int64
		idle   int64 // Config.IdleSpokeMemory
		expect int
		peak   int
	}{
		{"one per expected start", 0, 4 * DefaultIdleSpokeMemory, 0, 3, 3},
		{"bounded by the memory", 1, 3 * DefaultIdleSpokeMemory, 0, 7, 3},
		{"expectations within Pool", 2, 8 * DefaultIdleSpokeMemory, 0, 2, 2},
		{"no memory: Pool only", 2, 0, 0, 5, 2},
		// A bigger binary's spokes count for more of the same memory.
		{"counted as the binary's", 0, 4 * DefaultIdleSpokeMemory, 2 * DefaultIdleSpokeMemory, 7, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSpawner(t, Config{Pool: tc.pool, PoolMemory: tc.memory, IdleSpokeMemory: tc.idle})
			defer s.Close()
			var releases []func()
			for range tc.expect {
				releases = append(releases, s.Prepare())
			}
			before := waitPool(t, s, tc.peak, tc.peak)
			// Nothing more is started while the expectations hold.
			time.Sleep(200 * time.Millisecond)
			waitPool(t, s, tc.peak, tc.peak)
			for _, r := range releases {
				r()
				r() // a second call changes nothing
			}
			after := waitPool(t, s, tc.pool, tc.peak)
			if _, _, e := poolState(s); e != 0 {
				t.Errorf("%d starts still expected after every release", e)
			}
			for _, pid := range before {
				if !slices.Contains(after, pid) {
					waitGone(t, pid, "pooled spoke no longer wanted")
				}
			}
		})
	}
}

// TestPreparedSpokesServeOnce: a spoke started ahead of need serves one
// invocation and never another. A hostile first user's spoke, claimed
// from the pool while the next ones wait in it, cannot see, signal, trace
// or read them, and what it leaves in its /tmp is not there for the next
// user, whose spoke is another process.
func TestPreparedSpokesServeOnce(t *testing.T) {
	s := newSpawner(t, Config{PoolMemory: 4 * DefaultIdleSpokeMemory})
	defer s.Close()
	var releases []func()
	for range 3 {
		releases = append(releases, s.Prepare())
	}
	defer func() {
		for _, r := range releases {
			r()
		}
	}()
	waiting := waitPool(t, s, 3, 3)
	ctx := context.Background()
	first, err := s.Start(ctx, Policy{App: "test.hostile", Args: []string{"tmp"}, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(waiting, first.PID) {
		t.Fatalf("spoke %d was not one of the pooled ones %v", first.PID, waiting)
	}
	if err := readOutcomes(t, first, func(o outcome) bool { return o.OK && o.Detail == "spoke" }); err != nil {
		t.Fatalf("first spoke: %v", err)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first spoke: %v", err)
	}
	idle, _, _ := poolState(s)
	if slices.Contains(idle, first.PID) {
		t.Fatalf("spoke %d went back to the pool after serving", first.PID)
	}
	waitGone(t, first.PID, "spoke that served")

	// The next user's spoke comes from the pool; the hostile one, claimed
	// after it, tries to reach the spokes still waiting.
	next, err := s.Start(ctx, Policy{App: "test.next", Args: []string{"read", "/tmp/note"}, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if next.PID == first.PID {
		t.Fatalf("the next user's spoke is the first one's process %d", next.PID)
	}
	if err := readOutcomes(t, next, func(o outcome) bool { return !o.OK && strings.Contains(o.Err, "no such file") }); err != nil {
		t.Fatalf("next user's spoke read the first one's /tmp: %v", err)
	}
	if err := next.Wait(); err != nil {
		t.Fatalf("next spoke: %v", err)
	}
	// Each hostile spoke is claimed from the pool while others wait in it
	// for the next users, and tries to reach the newest of them.
	for _, act := range []string{"kill", "ptrace", "vmread"} {
		waiting := waitPool(t, s, 3, 3)
		p, err := s.Start(ctx, Policy{App: "test.hostile", Args: []string{act, strconv.Itoa(waiting[len(waiting)-1])}, Timeout: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		target := waiting[len(waiting)-1]
		if p.PID == target || !slices.Contains(waiting, p.PID) {
			t.Fatalf("hostile spoke %d: not claimed from the pool %v, or its own target", p.PID, waiting)
		}
		// Refused (EPERM), or the spoke killed by its filter.
		rerr := readOutcomes(t, p, func(o outcome) bool { return !o.OK })
		werr := p.Wait()
		if rerr != nil && (werr == nil || !strings.Contains(werr.Error(), "forbidden system call")) {
			t.Errorf("%s of pooled spoke %d: %v (exit: %v)", act, target, rerr, werr)
		}
		if !alive(target) {
			t.Errorf("pooled spoke %d ended while another spoke attacked it", target)
		}
	}
}

// readOutcomes reads a test spoke's one outcome and checks it.
func readOutcomes(t *testing.T, p *Proc, want func(outcome) bool) error {
	t.Helper()
	line, err := bufio.NewReader(p.Conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read outcome: %w", err)
	}
	var o outcome
	if err := json.Unmarshal([]byte(line), &o); err != nil {
		return fmt.Errorf("spoke wrote %q: %w", line, err)
	}
	if !want(o) {
		return fmt.Errorf("outcome %+v", o)
	}
	return nil
}

// TestIdlePooledSpokeMemory: a pooled spoke of the test binary waiting for
// its launch frame holds no more than DefaultIdleSpokeMemory of
// proportional memory, even shared with only three others (its share of
// the binary's pages shrinks as more spokes share them). The binaries
// users run are held to their own figures in cli
// (TestIdleSpokeMemoryOfEachBinary).
func TestIdlePooledSpokeMemory(t *testing.T) {
	s := newSpawner(t, Config{Pool: 4})
	defer s.Close()
	idle := waitPool(t, s, 4, 4)
	bound := int64(DefaultIdleSpokeMemory)
	if raceEnabled {
		// The race runtime's shadow memory: release builds are not
		// race-enabled.
		bound *= 8
	}
	// Let each finish its start (the Go runtime's first allocations).
	time.Sleep(300 * time.Millisecond)
	for _, pid := range idle {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		if err != nil {
			t.Fatalf("read pooled spoke's memory: %v", err)
		}
		var kb int64
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "Pss:"); ok {
				kb, _ = strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			}
		}
		if kb == 0 || kb<<10 > bound {
			t.Errorf("pooled spoke %d: PSS %d KiB, more than %d KiB", pid, kb, bound>>10)
		} else {
			t.Logf("pooled spoke %d: PSS %d KiB", pid, kb)
		}
	}
}

// TestLocalExe: with a smaller binary for the apps that need neither
// egress nor programs (Config.LocalExe), their spokes and every pooled
// spoke run from it; every other spoke runs from Exe, started on demand,
// and never takes a pooled spoke (which could not run its app).
func TestLocalExe(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A copy of this test binary stands in for secgpt-spoke-local: the
	// same spoke entry, another file.
	local := filepath.Join(t.TempDir(), "spoke-local")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(local, b, 0o755); err != nil {
		t.Fatal(err)
	}
	s := newSpawner(t, Config{Pool: 2, LocalExe: local, LocalApps: []string{"test.local"}})
	defer s.Close()
	for _, pid := range waitPool(t, s, 2, 2) {
		if got := exeOf(t, pid); got != local {
			t.Errorf("pooled spoke %d runs %s, want %s", pid, got, local)
		}
	}
	tests := []struct {
		name   string
		policy Policy
		want   string
		pooled bool
	}{
		{"local app", Policy{App: "test.local"}, local, true},
		{"another app", Policy{App: "test.other"}, self, false},
		{"local app with egress", Policy{App: "test.local", Domains: []string{"example.com"}}, self, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _, _ := poolState(s)
			tc.policy.Args, tc.policy.Timeout = []string{"hang"}, time.Minute
			pr, err := s.Start(context.Background(), tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			got := exeOf(t, pr.PID)
			pr.Kill("test done")
			_ = pr.Wait()
			if got != tc.want {
				t.Errorf("spoke of %s runs %s, want %s", tc.policy.App, got, tc.want)
			}
			if claimed := slices.Contains(before, pr.PID); claimed != tc.pooled {
				t.Errorf("spoke of %s came from the pool: %v, want %v", tc.policy.App, claimed, tc.pooled)
			}
			waitPool(t, s, 2, 3)
		})
	}
}

// exeOf is the binary pid runs.
func exeOf(t *testing.T, pid int) string {
	t.Helper()
	got, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatal(err)
	}
	return got
}
