//go:build linux

package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// alive reports whether pid exists (and is not a zombie of ours).
func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still running after 10 s", what, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func forkServerPID(t testing.TB, s *Spawner) int {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	fc := s.forks[s.cfg.Exe]
	if fc == nil {
		t.Fatal("no fork server started")
	}
	return fc.PID()
}

func TestForkServerHoldsNothingASpokeCanReach(t *testing.T) {
	s := newSpawner(t, Config{})
	defer s.Close()
	outs, err := run(t, s, Policy{Args: []string{"fds"}})
	if err != nil || len(outs) != 1 {
		t.Fatalf("outcomes %+v, wait %v", outs, err)
	}
	if !outs[0].OK {
		t.Fatalf("spoke holds sockets beyond its own two: %s (%s)", outs[0].Detail, outs[0].Err)
	}
}

// A fork server that dies takes its spokes with it; the hub reports them
// as ended and the next spawn starts a new fork server.
func TestForkServerDeath(t *testing.T) {
	s := newSpawner(t, Config{})
	defer s.Close()
	pr, err := s.Start(context.Background(), Policy{App: "test.hang", Args: []string{"hang"}, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	old := forkServerPID(t, s)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- pr.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Wait = nil for a spoke whose fork server was killed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after the fork server died")
	}
	waitGone(t, pr.PID, "spoke of a dead fork server")
	outs, err := run(t, s, Policy{Args: []string{"ready"}})
	if err != nil || len(outs) != 1 || !outs[0].OK {
		t.Fatalf("spawn after fork server death: outcomes %+v, wait %v", outs, err)
	}
	if now := forkServerPID(t, s); now == old {
		t.Fatalf("fork server pid %d reused after its death", now)
	}
}

// Close lets running spokes finish; the fork server ends after the last.
func TestCloseWaitsForRunningSpokes(t *testing.T) {
	s := newSpawner(t, Config{})
	pr, err := s.Start(context.Background(), Policy{App: "test.hang", Args: []string{"hang"}, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	fs := forkServerPID(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if !alive(pr.PID) || !alive(fs) {
		t.Fatalf("Close ended a running spoke (alive %v) or its fork server (alive %v)", alive(pr.PID), alive(fs))
	}
	// The hang action returns when its socket closes.
	_ = pr.Conn.Close()
	if err := pr.Wait(); err != nil {
		var ee *ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("Wait: %v", err)
		}
	}
	waitGone(t, fs, "fork server after Close and its last spoke")
}

// BenchmarkSpawnHubHeap measures what a spawn costs the hub when its heap
// is large (as with many conversations held): the hub cloning spokes
// itself, which forks its whole address space because a new user
// namespace rules out vfork, against the fork server. It reports the hub's
// own CPU per spawn (getrusage, so children are not counted) and spawns per
// second, with 256 MiB of the hub's heap touched between spawns.
func BenchmarkSpawnHubHeap(b *testing.B) {
	heap := make([][]byte, 256)
	for i := range heap {
		heap[i] = make([]byte, 1<<20)
		for j := 0; j < len(heap[i]); j += 4096 {
			heap[i][j] = 1
		}
	}
	measure := func(direct bool, n int) (cpu time.Duration, rate float64) {
		s := newSpawner(b, Config{})
		s.direct = direct
		defer s.Close()
		var r0, r1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
		t0 := time.Now()
		for i := range n {
			p, err := s.Start(context.Background(), Policy{App: "bench", Args: []string{"ready"}})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := bufio.NewReader(p.Conn).ReadString('\n'); err != nil {
				b.Fatal(err)
			}
			if err := p.Wait(); err != nil {
				b.Fatal(err)
			}
			for _, h := range heap[:64] { // the hub goes on writing its heap
				for j := 0; j < len(h); j += 4096 {
					h[j] = byte(i)
				}
			}
		}
		wall := time.Since(t0)
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		self := time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
		return self / time.Duration(n), float64(n) / wall.Seconds()
	}
	n := 20
	for b.Loop() {
		dCPU, dRate := measure(true, n)
		fCPU, fRate := measure(false, n)
		b.ReportMetric(ms(dCPU), "direct-hub-cpu-ms/spawn")
		b.ReportMetric(ms(fCPU), "forkserver-hub-cpu-ms/spawn")
		b.ReportMetric(dRate, "direct-spawns/s")
		b.ReportMetric(fRate, "forkserver-spawns/s")
	}
	runtime.KeepAlive(heap)
}

// The fork server exists so that a spoke's clone copies a small address
// space, not the hub's; it must stay small however many spokes run. A
// thread blocked waiting for each running spoke made it grow by one
// thread, its stacks and their mappings per spoke (measured: 1242
// mappings and 15 MiB with 1000 conversations running, and each clone
// copied them all).
func TestForkServerStaysSmallWithManySpokes(t *testing.T) {
	s := newSpawner(t, Config{})
	defer s.Close()
	const n = 96
	var procs []*Proc
	defer func() {
		for _, pr := range procs {
			pr.Kill("test over")
			_ = pr.Wait()
		}
	}()
	threads := func() int {
		v, err := procStatus(forkServerPID(t, s), "Threads")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for i := range n {
		pr, err := s.Start(context.Background(), Policy{App: "test.hang", Args: []string{"hang"}, Timeout: time.Minute})
		if err != nil {
			t.Fatalf("start spoke %d: %v", i, err)
		}
		procs = append(procs, pr)
	}
	// Every spoke has started (its PID is known), so the fork server now
	// waits for all of them.
	// The threads that clone into the shared network namespace (16), Go's
	// own, and slack; far below one per spoke.
	const bound = 48
	if got := threads(); got > bound {
		t.Fatalf("fork server has %d threads with %d spokes running; its size grows with the spokes it waits for", got, n)
	}
}

// procStatus reads a numeric field of /proc/PID/status.
func procStatus(pid int, field string) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.Atoi(strings.Fields(v)[0])
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
