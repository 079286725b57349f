//go:build linux

package sandbox

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cgroupSpawner returns a Spawner whose spokes get cgroups, or fails (CI)
// or skips where no cgroup is writable.
func cgroupSpawner(t *testing.T) *Spawner {
	t.Helper()
	s := newSpawner(t, Config{})
	if s.host.cg.kind == "" {
		s.Close()
		if os.Getenv("CI") == "true" {
			t.Fatal("no writable cgroup under CI")
		}
		t.Skip("no writable cgroup on this host")
	}
	return s
}

// freeCgroups lists the first directory of each kept cgroup.
func freeCgroups(s *Spawner) []string {
	s.cgmu.Lock()
	defer s.cgmu.Unlock()
	var out []string
	for _, cg := range s.cgFree {
		out = append(out, cg.dirs[0])
	}
	return out
}

// TestCgroupReuse: the cgroup of an ended spoke serves the next spoke, and
// nothing the first did is the next one's: a hostile spoke that ran into
// its memory or process bound leaves the counters raised, and the next
// spoke in that cgroup, killed for another reason, is told its own.
func TestCgroupReuse(t *testing.T) {
	tests := []struct {
		name   string
		first  Policy
		reason string
	}{
		{"after an OOM kill", Policy{Args: []string{"alloc"}, Limits: Limits{Memory: 128 << 20}}, "memory limit exceeded"},
		{"after a thread bomb", Policy{Args: []string{"threads"}, Limits: Limits{Procs: 32}}, "process/thread limit reached"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := cgroupSpawner(t)
			defer s.Close()
			first, err := s.Start(context.Background(), tc.first)
			if err != nil {
				t.Fatal(err)
			}
			dir := first.cg.dirs[0]
			var ee *ExitError
			if err := first.Wait(); !errors.As(err, &ee) || ee.Reason != tc.reason {
				t.Fatalf("first spoke ended with %v, want %q", err, tc.reason)
			}
			if free := freeCgroups(s); !slices.Equal(free, []string{dir}) {
				t.Fatalf("kept cgroups %v, want the first spoke's %s", free, dir)
			}
			// The next spoke dies by its filter, in the same cgroup.
			next, err := s.Start(context.Background(), Policy{Args: []string{"unshare"}, Timeout: 20 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if next.cg.dirs[0] != dir {
				t.Fatalf("next spoke's cgroup %s, want the reused %s", next.cg.dirs[0], dir)
			}
			err = next.Wait()
			if !errors.As(err, &ee) || !strings.Contains(ee.Reason, "forbidden system call") {
				t.Fatalf("next spoke ended with %v, want the forbidden system call as its reason, not the first spoke's", err)
			}
		})
	}
}

// TestCgroupNotReusedWhileOccupied: a cgroup with a process left in it is
// removed (once it can be), never kept for the next spoke.
func TestCgroupNotReusedWhileOccupied(t *testing.T) {
	s := cgroupSpawner(t)
	defer s.Close()
	cg, err := s.newCgroup()
	if err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	dirs := slices.Clone(cg.dirs)
	defer func() {
		_ = sleeper.Process.Kill()
		_ = sleeper.Wait()
		(&cgroup{dirs: dirs, fd: -1}).remove()
	}()
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(sleeper.Process.Pid)), 0); err != nil {
			t.Fatalf("move a process into %s: %v", d, err)
		}
	}
	s.putCgroup(cg)
	if free := freeCgroups(s); len(free) != 0 {
		t.Fatalf("an occupied cgroup was kept for the next spoke: %v", free)
	}
	if _, err := os.Stat(dirs[0]); err != nil {
		t.Fatalf("the occupied cgroup is gone while its process runs: %v", err)
	}
}

// TestCloseRemovesKeptCgroups: Close removes the cgroups it kept, and
// those of spokes that end after it.
func TestCloseRemovesKeptCgroups(t *testing.T) {
	s := cgroupSpawner(t)
	outs, err := run(t, s, Policy{Args: []string{"ready"}})
	if err != nil || len(outs) != 1 || !outs[0].OK {
		t.Fatalf("outcomes %+v, wait %v", outs, err)
	}
	free := freeCgroups(s)
	if len(free) != 1 {
		t.Fatalf("kept cgroups %v, want the ended spoke's", free)
	}
	late, err := s.Start(context.Background(), Policy{Args: []string{"ready"}, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	lateDirs := slices.Clone(late.cg.dirs)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_ = late.Wait()
	for _, d := range append(free, lateDirs...) {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cgroup %s left after Close: %v", d, err)
		}
	}
}
