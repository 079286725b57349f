package hubtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/spoke"
	"github.com/secgpt-go/secgpt/sandbox"
)

// InProcess returns a spawner that runs each spoke's code (core/spoke.Run,
// the same agent loop a spoke process runs) in a goroutine of the test
// binary, talking ISC over a net.Pipe. It confines nothing: no rlimits, no
// seccomp, no namespaces, and every HTTP request the app makes is refused.
// It is for tests of the hub's own logic (planning, prompts, flows between
// steps, state); tests of what a spoke can or cannot do (hostile spokes,
// leaks, limits, egress) must use real spokes.
//
// Policies that only a process can honour (execve for external apps,
// host mounts) are refused with an error, never run unconfined.
func InProcess() hub.Spawner { return inProcess{} }

type inProcess struct{}

func (inProcess) Start(ctx context.Context, p sandbox.Policy) (hub.Spoke, error) {
	if p.AllowExec || len(p.Mounts) > 0 {
		return nil, fmt.Errorf("in-process spoke %s: its policy needs a process (exec or mounts); use real spokes", p.App)
	}
	hubEnd, spokeEnd := net.Pipe()
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &goSpoke{conn: hubEnd, cancel: cancel, done: make(chan struct{})}
	if p.Timeout > 0 {
		s.timer = time.AfterFunc(p.Timeout, func() { s.Kill(fmt.Sprintf("wall-clock timeout %s", p.Timeout)) })
	}
	go s.run(runCtx, spokeEnd)
	return s, nil
}

// goSpoke is one spoke running in a goroutine.
type goSpoke struct {
	conn   net.Conn
	cancel context.CancelFunc
	timer  *time.Timer
	done   chan struct{}
	// err is what spoke.Run returned; written before done is closed.
	err error

	mu     sync.Mutex // guards reason
	reason string
}

// run is what spoke.Main does in a spoke process, minus entering the
// sandbox: an error is reported to the hub as the spoke's last frame.
func (s *goSpoke) run(ctx context.Context, end net.Conn) {
	defer close(s.done)
	conn := isc.NewConn(end, isc.SpokeSide, 0)
	defer conn.Close()
	if err := spoke.Run(ctx, conn, nil); err != nil {
		_ = conn.Send(isc.KindSpokeError, isc.ErrorBody{Message: err.Error()})
		s.err = err
	}
}

func (s *goSpoke) Conn() io.ReadWriteCloser { return s.conn }

func (s *goSpoke) Kill(reason string) {
	s.mu.Lock()
	if s.reason == "" {
		s.reason = reason
	}
	s.mu.Unlock()
	s.cancel()
	// Closing the hub's end fails the spoke's next read or write, as a
	// killed process's socket would.
	_ = s.conn.Close()
}

func (s *goSpoke) KillReason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

func (s *goSpoke) Wait() error {
	<-s.done
	if s.timer != nil {
		s.timer.Stop()
	}
	s.cancel()
	if s.err == nil {
		return nil
	}
	return fmt.Errorf("in-process spoke: %w", s.err)
}

func (s *goSpoke) PID() int { return 0 }

var _ hub.Spawner = inProcess{}
