// Package inproc runs a spoke's code (core/spoke.Serve, the agent loop a
// spoke process runs) in a goroutine, for what checks the hub's logic
// without the cost of a process: core/hubtest's in-process spawner and the
// invariant harness's --spokes inprocess. It confines nothing (no rlimits,
// seccomp or namespaces; every HTTP request the app makes is refused), so
// only those two import it, and no configuration of a serving hub can
// choose it.
package inproc

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/spoke"
)

// Options configure one spoke.
type Options struct {
	// PID is what PID reports (0: the spoke is no process of its own).
	PID int
	// Timeout, if > 0, kills the spoke after that long, as a spoke
	// process's wall-clock bound does.
	Timeout time.Duration
	// Context, if set, derives the context the spoke's code runs in from
	// the spoke's end of the connection and a function that ends the spoke
	// as its process exiting with a code would (the invariant harness
	// hands both to its hostile apps). exit does not return.
	Context func(ctx context.Context, conn *isc.Conn, exit func(code int)) context.Context
}

// Spoke is one spoke running in a goroutine. Its methods are those of
// core/hub's Spoke.
type Spoke struct {
	pid    int
	conn   net.Conn
	cancel context.CancelFunc
	timer  *time.Timer
	done   chan struct{}
	// err is how the spoke ended, written before done is closed.
	err error

	mu     sync.Mutex // guards reason
	reason string
}

// Start runs a spoke whose ISC connection is end; hubEnd is the hub's end
// of it (or of a relay in between), which Kill closes.
func Start(ctx context.Context, hubEnd, end net.Conn, o Options) *Spoke {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Spoke{pid: o.PID, conn: hubEnd, cancel: cancel, done: make(chan struct{})}
	if o.Timeout > 0 {
		s.timer = time.AfterFunc(o.Timeout, func() { s.Kill(fmt.Sprintf("wall-clock timeout %s", o.Timeout)) })
	}
	go s.run(runCtx, end, o.Context)
	return s
}

// run is what spoke.Run does in a spoke process, minus entering the
// sandbox: an error is reported to the hub as the spoke's last frame. An
// exit ends the goroutine as exiting ends the process: the connection
// closes, and a code other than 0 is the spoke's error.
func (s *Spoke) run(ctx context.Context, end net.Conn, derive func(context.Context, *isc.Conn, func(int)) context.Context) {
	defer close(s.done)
	conn := isc.NewConn(end, isc.SpokeSide, 0)
	defer conn.Close()
	if derive != nil {
		ctx = derive(ctx, conn, func(code int) {
			if code != 0 {
				s.err = fmt.Errorf("exit status %d", code)
			}
			runtime.Goexit()
		})
	}
	if err := spoke.Serve(ctx, conn, nil); err != nil {
		_ = conn.Send(isc.KindSpokeError, isc.ErrorBody{Message: err.Error()})
		s.err = err
	}
}

// Conn is the hub's end of the connection.
func (s *Spoke) Conn() io.ReadWriteCloser { return s.conn }

// Kill ends the spoke: closing the hub's end fails the spoke's next read
// or write, as a killed process's socket would.
func (s *Spoke) Kill(reason string) {
	s.mu.Lock()
	if s.reason == "" {
		s.reason = reason
	}
	s.mu.Unlock()
	s.cancel()
	_ = s.conn.Close()
}

// KillReason is the first reason given to Kill, or "".
func (s *Spoke) KillReason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// Wait blocks until the spoke's goroutine has returned.
func (s *Spoke) Wait() error {
	<-s.done
	if s.timer != nil {
		s.timer.Stop()
	}
	s.cancel()
	if s.err != nil {
		return fmt.Errorf("in-process spoke: %w", s.err)
	}
	return nil
}

// Ended reports whether the spoke's goroutine has returned.
func (s *Spoke) Ended() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// PID is Options.PID.
func (s *Spoke) PID() int { return s.pid }
