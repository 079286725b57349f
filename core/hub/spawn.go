package hub

import (
	"context"
	"io"
	"time"

	"github.com/secgpt-go/secgpt/sandbox"
)

// Spoke is one running spoke as the hub uses it: a connection and a
// lifetime. A spoke's identity is the connection the hub reads, never a
// field it writes.
type Spoke interface {
	// Conn is the hub's end of the spoke's ISC connection. Kill closes it.
	Conn() io.ReadWriteCloser
	// Kill ends the spoke and records reason, unless one was recorded
	// already. It does not block and may be called from any goroutine,
	// more than once.
	Kill(reason string)
	// KillReason is the first reason recorded by Kill or by the spoke's
	// own bounds (a timeout, a limit), or "".
	KillReason() string
	// Wait blocks until the spoke has ended and released what it held;
	// nil means it ended cleanly. Call it once Kill was called or the
	// spoke sent its final frame.
	Wait() error
	// PID is the spoke's process id, for logs and traces; 0 for a spoke
	// that is not a process of its own.
	PID() int
}

// Spawner starts spokes under a sandbox policy. Production hubs get one
// from Processes; tests that exercise the hub's logic rather than the
// sandbox may run spokes in-process (core/hubtest).
type Spawner interface {
	Start(ctx context.Context, p sandbox.Policy) (Spoke, error)
}

// ProcessStarter starts sandboxed spoke processes: a *sandbox.Spawner, or
// a wrapper of one (metrics, the invariants harness's frame tap).
type ProcessStarter interface {
	Start(ctx context.Context, p sandbox.Policy) (*sandbox.Proc, error)
}

// Processes returns a Spawner that runs every spoke as a process started
// by s.
func Processes(s ProcessStarter) Spawner { return processes{s} }

type processes struct{ s ProcessStarter }

func (ps processes) Start(ctx context.Context, p sandbox.Policy) (Spoke, error) {
	proc, err := ps.s.Start(ctx, p)
	if err != nil {
		return nil, err
	}
	return process{proc}, nil
}

// process is a spoke process.
type process struct{ p *sandbox.Proc }

func (p process) Conn() io.ReadWriteCloser { return p.p.Conn }
func (p process) Kill(reason string)       { p.p.Kill(reason) }
func (p process) KillReason() string       { return p.p.KillReason() }
func (p process) Wait() error              { return p.p.Wait() }
func (p process) PID() int                 { return p.p.PID }

// Rearm restarts the process's wall-clock bound (warm spokes, warm.go).
func (p process) Rearm(d time.Duration) { p.p.Rearm(d) }

var (
	_ Spawner = processes{}
	_ Spoke   = process{}
)
