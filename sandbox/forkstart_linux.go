//go:build linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/secgpt-go/secgpt/sandbox/forkserver"
)

// Sandboxed spokes are cloned by the fork server (sandbox/forkserver, which
// says why); this is the Spawner's side of it.

// forkServer returns the running fork server, starting one if there is
// none or the last one died.
func (s *Spawner) forkServer(exe string) (*forkserver.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fc := s.forks[exe]; fc != nil && fc.Alive() {
		return fc, nil
	}
	env := []string{ChildEnv + "=1"}
	if raceEnabled {
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	// The fork server serves every later spawn, so its goroutines (the
	// reader, the waiter, the output copier os/exec starts) must not
	// inherit the profiler labels of whichever call came first: started
	// from a goroutine with none.
	var fc *forkserver.Client
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		pprof.SetGoroutineLabels(context.Background())
		fc, err = forkserver.Start(exe, s.cfg.Args, env, &spokeOutput{p: &Proc{app: "fork server"}, log: s.log})
	}()
	<-done
	if err != nil {
		return nil, err
	}
	if s.forks == nil {
		s.forks = map[string]*forkserver.Client{}
	}
	s.forks[exe] = fc
	return fc, nil
}

// forkStart starts a sandboxed spoke through the fork server, with the
// namespaces, maps and cgroup confine put in attr, and sets pr's PID and
// wait.
func (s *Spawner) forkStart(pr *Proc, exe string, attr *syscall.SysProcAttr, args, env []string, stdin *os.File, out io.Writer, isc, egress *os.File) error {
	fc, err := s.forkServer(exe)
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("output pipe: %w", err)
	}
	defer w.Close()
	// The fork server runs cfg.Exe, so its /proc/self/exe is the spoke's
	// binary: exec reaches it without the spoke's uid searching the
	// directories on cfg.Exe's path (a root hub's spokes run as nobody).
	req := forkserver.Request{Path: "/proc/self/exe", Args: args, Env: env, Cloneflags: attr.Cloneflags,
		UIDMappings: attr.UidMappings, GIDMappings: attr.GidMappings, Setgroups: attr.GidMappingsEnableSetgroups,
		SharedNet: pr.sharedNet}
	if c := attr.Credential; c != nil {
		req.UID, req.GID, req.NoSetGroups = c.Uid, c.Gid, c.NoSetGroups
	}
	fds := []int{int(stdin.Fd()), int(w.Fd()), int(isc.Fd()), int(egress.Fd())}
	if attr.UseCgroupFD {
		req.CgroupFD = true
		fds = append(fds, attr.CgroupFD)
	}
	pid, exit, err := fc.Spawn(req, fds)
	if err != nil {
		r.Close()
		return fmt.Errorf("fork server: %w", err)
	}
	copied := make(chan struct{})
	go copySpokeOutput(out, r, copied)
	pr.PID = pid
	pr.wait = func() error {
		err := <-exit
		// The output ends when the spoke's whole group has exited; a
		// descendant that left the group cannot hold the hub's reap.
		select {
		case <-copied:
		case <-time.After(time.Second):
		}
		r.Close()
		var fe *forkserver.Exit
		if errors.As(err, &fe) {
			return &spokeExit{ws: fe.Status, user: fe.User, sys: fe.Sys}
		}
		return err
	}
	return nil
}

// copySpokeOutput copies a spoke's stdout and stderr until every writer
// has closed the pipe.
func copySpokeOutput(out io.Writer, r io.Reader, done chan<- struct{}) {
	_, _ = io.Copy(out, r)
	close(done)
}
