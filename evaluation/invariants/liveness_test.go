package invariants

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestReleased(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if released(pid) {
		t.Fatal("a running process nobody killed counts as released")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Killed and not yet reaped: exiting or a zombie, released either way.
	deadline := time.Now().Add(10 * time.Second)
	for !released(pid) {
		if time.Now().After(deadline) {
			t.Fatal("a killed process does not count as released")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Wait()
	if !released(pid) {
		t.Fatal("a reaped process does not count as released")
	}
}

func TestUnreaped(t *testing.T) {
	evs := []*event{
		{kind: evSpokeStart, pid: 30}, {kind: evSpokeStart, pid: 10}, {kind: evSpokeStart, pid: 20},
		{kind: evSpokeEnd, pid: 10},
		// A PID the kernel reused within the episode: started twice, ended once.
		{kind: evSpokeStart, pid: 10},
		{kind: evSpokeEnd, pid: 30},
	}
	got := unreaped(evs)
	if len(got) != 2 || got[0] != 10 || got[1] != 20 {
		t.Fatalf("unreaped = %v, want [10 20]", got)
	}
}
