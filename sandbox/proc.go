package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Proc is a running spoke.
type Proc struct {
	// Conn is the hub's end of the ISC socketpair.
	Conn *os.File
	PID  int

	wait func() error // reaps the spoke: nil or a *spokeExit
	cg   *cgroup
	// putCg takes the cgroup back once the spoke has ended (for the next
	// spoke, if it is empty); nil removes it.
	putCg  func(*cgroup)
	egress *net.UnixConn
	tmp    string
	// sharedNet: started in the fork server's shared empty network
	// namespace, so it may not get egress or exec.
	sharedNet bool
	onWait    func() // run after the spoke is reaped (pool refill)
	waitOnce  sync.Once
	waitErr   error
	mu        sync.Mutex // guards the fields below
	reason    string
	app       string
	cpu       time.Duration
	timer     *time.Timer
	// egressStop ends the spoke's egress proxy and its upstream
	// connections once the spoke is reaped.
	egressStop context.CancelFunc
}

// ExitError is what Proc.Wait returns when a spoke did not exit cleanly; it
// names the reason when the sandbox knows it (a limit, a timeout, a
// forbidden system call).
type ExitError struct {
	App    string
	Reason string
	Err    error
}

func (e *ExitError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("spoke %s: %v", e.App, e.Err)
	}
	return fmt.Sprintf("spoke %s: %s: %v", e.App, e.Reason, e.Err)
}

func (e *ExitError) Unwrap() error { return e.Err }

// Rearm restarts the spoke's wall-clock bound at d from now; d <= 0 stops
// it. The hub rearms a warm spoke for each invocation it serves and
// disarms it while the spoke waits for the next one (its idle timeout then
// bounds it).
func (p *Proc) Rearm(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if d > 0 {
		p.timer = time.AfterFunc(d, func() { p.Kill(fmt.Sprintf("wall-clock timeout %s", d)) })
	}
}

// Kill ends the spoke's whole process group, recording why.
func (p *Proc) Kill(reason string) {
	p.mu.Lock()
	if p.reason == "" {
		p.reason = reason
	}
	p.mu.Unlock()
	_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	_ = p.Conn.Close()
}

// KillReason returns why the spoke was killed, or "".
func (p *Proc) KillReason() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reason
}

// Wait reaps the spoke (and kills what is left of its group), removes its
// cgroup and temp dir, and returns nil for a clean exit or an *ExitError
// naming the reason.
func (p *Proc) Wait() error {
	p.waitOnce.Do(func() {
		err := p.wait()
		p.mu.Lock()
		if p.timer != nil {
			p.timer.Stop()
		}
		if p.egressStop != nil {
			p.egressStop()
		}
		app := p.app
		p.mu.Unlock()
		_ = syscall.Kill(-p.PID, syscall.SIGKILL)
		oom, pids := p.cg.oomKilled(), p.cg.pidsMaxed()
		p.cleanup()
		if err != nil {
			p.waitErr = &ExitError{App: app, Reason: p.exitReason(err, oom, pids), Err: err}
		}
		if p.onWait != nil {
			p.onWait()
		}
	})
	return p.waitErr
}

// exitReason explains a failed exit.
func (p *Proc) exitReason(err error, oom, pids bool) string {
	if r := p.KillReason(); r != "" {
		return r
	}
	switch {
	case oom:
		return "memory limit exceeded"
	case pids:
		return "process/thread limit reached"
	}
	var ee *spokeExit
	if !errors.As(err, &ee) || !ee.ws.Signaled() {
		return ""
	}
	ws := ee.ws
	p.mu.Lock()
	cpu := p.cpu
	p.mu.Unlock()
	switch {
	case ws.Signal() == syscall.SIGSYS:
		return "forbidden system call (seccomp)"
	case ws.Signal() == syscall.SIGKILL && cpu > 0 && ee.user+ee.sys >= cpu/2:
		// The kernel's RLIMIT_CPU clock is exact; the rusage the hub gets
		// back is tick-sampled and reads up to ~15 % low (measured), and no
		// other SIGKILL is unexplained by now (the hub's own kills carry a
		// reason, OOM kills a cgroup counter).
		return "CPU time limit exceeded"
	}
	return ""
}

// spokeExit is how a spoke that did not exit cleanly ended, whoever reaped
// it.
type spokeExit struct {
	ws        syscall.WaitStatus
	user, sys time.Duration
}

func (e *spokeExit) Error() string {
	switch {
	case e.ws.Signaled():
		return "signal: " + e.ws.Signal().String()
	case e.ws.Exited():
		return fmt.Sprintf("exit status %d", e.ws.ExitStatus())
	}
	return fmt.Sprintf("wait status %#x", uint32(e.ws))
}

// exitOf turns a reaped process's state into nil or a *spokeExit.
func exitOf(ps *os.ProcessState) error {
	if ps == nil || ps.Success() {
		return nil
	}
	ws, _ := ps.Sys().(syscall.WaitStatus)
	return &spokeExit{ws: ws, user: ps.UserTime(), sys: ps.SystemTime()}
}

// cleanup releases what Start made for the spoke. Safe on a partial Proc.
func (p *Proc) cleanup() {
	_ = p.Conn.Close()
	if p.egress != nil {
		_ = p.egress.Close()
	}
	if p.putCg != nil {
		p.putCg(p.cg)
	} else {
		p.cg.remove()
	}
	if p.tmp != "" {
		_ = os.RemoveAll(p.tmp)
	}
}
