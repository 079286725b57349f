//go:build linux

package forkserver

import (
	"os/exec"
	"testing"
	"time"
)

// TestReaper: every exit is reported once watched, whether the child ended
// before or after watch; and a start that failed after its fork (its child
// reaped here, its PID never watched) does not stop the reaper from
// reporting the children started after it. A count of live children went
// wrong there (the failed start was taken back and reaped too), and the
// next spoke's exit was never reported.
func TestReaper(t *testing.T) {
	r := newReaper()
	start := func(args ...string) int {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid := cmd.Process.Pid
		_ = cmd.Process.Release()
		r.forked()
		return pid
	}
	reaped := func(pid int) bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		_, ok := r.reaped[pid]
		return ok
	}
	waitReaped := func(pid int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !reaped(pid); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("child %d not reaped after 5 s", pid)
			}
		}
	}
	report := func(pid int) reply {
		t.Helper()
		got := make(chan reply, 1)
		r.watch(pid, func(e reply) { got <- e })
		select {
		case e := <-got:
			return e
		case <-time.After(5 * time.Second):
			t.Fatalf("no exit report for child %d after 5 s", pid)
			return reply{}
		}
	}

	// A failed start's child: reaped, never watched.
	waitReaped(start("true"))

	// Ended before watch.
	early := start("sh", "-c", "exit 3")
	waitReaped(early)
	if e := report(early); e.PID != early || !e.Exited || e.Status>>8 != 3 {
		t.Fatalf("report of a child that ended before watch: %+v", e)
	}
	// Ended after watch.
	late := start("sleep", "0.2")
	if e := report(late); e.PID != late || !e.Exited || e.Status != 0 {
		t.Fatalf("report of a child that ended after watch: %+v", e)
	}
}
