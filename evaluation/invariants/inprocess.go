package invariants

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/spoke"
	"github.com/secgpt-go/secgpt/sandbox"
)

// Spokes modes of a run (Options.Spokes).
const (
	// SpokesSandbox runs every spoke as a sandboxed process, as the hub
	// does in production. It is the default.
	SpokesSandbox = "sandbox"
	// SpokesInProcess runs every spoke's code in a goroutine of the
	// harness, over the hub's spoke seam (hub.Spawner). The invariants
	// that concern the hub's logic (I1–I3, I6, I10, most of I4 and I5) are
	// checked as they are with processes, at a fraction of the cost; what
	// only a sandbox holds (limits, seccomp, a spoke's reach into the
	// machine) is not exercised.
	SpokesInProcess = "inprocess"
)

// firstFakePID numbers in-process spokes above any PID the kernel hands
// out (pid_max is at most 2^22), so that the checker's spoke identities
// (by PID) stay unique and never name a real process.
const firstFakePID = 1 << 22

// source gives each episode the spawner its hub starts spokes with, with
// every frame recorded.
type source interface {
	episode(rec *recorder) episodeSpokes
}

// episodeSpokes are one episode's spokes.
type episodeSpokes struct {
	spawner hub.Spawner
	// released reports whether the spoke of pid has ended or been killed
	// (see waitSpokes).
	released func(pid int) bool
	// relays are the recording relays still running.
	relays *sync.WaitGroup
}

// processSource runs spokes as sandboxed processes through a frame tap.
type processSource struct{ sp hub.ProcessStarter }

func (s processSource) episode(rec *recorder) episodeSpokes {
	tap := &tapSpawner{inner: s.sp, rec: rec}
	return episodeSpokes{spawner: hub.Processes(tap), released: released, relays: &tap.relays}
}

// inProcessSource runs spokes in goroutines (see SpokesInProcess).
type inProcessSource struct {
	// pids numbers the spokes of every episode of the run.
	pids *atomic.Int64
}

func (s inProcessSource) episode(rec *recorder) episodeSpokes {
	ip := &inProcess{tap: &tapSpawner{rec: rec}, pids: s.pids, spokes: map[int]*goSpoke{}}
	return episodeSpokes{spawner: ip, released: ip.released, relays: &ip.tap.relays}
}

// inProcess starts one episode's in-process spokes. Each runs core/spoke's
// agent loop (what a spoke process runs) over a net.Pipe, through a relay
// that records every frame as the tap does for processes.
type inProcess struct {
	tap  *tapSpawner
	pids *atomic.Int64

	mu     sync.Mutex // guards spokes
	spokes map[int]*goSpoke
}

func (ip *inProcess) Start(ctx context.Context, p sandbox.Policy) (hub.Spoke, error) {
	if p.AllowExec || len(p.Mounts) > 0 {
		return nil, fmt.Errorf("in-process spoke %s: its policy needs a process (exec or mounts)", p.App)
	}
	pid := firstFakePID + int(ip.pids.Add(1))
	hubEnd, relayHub := net.Pipe()
	relaySpoke, spokeEnd := net.Pipe()
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &goSpoke{pid: pid, conn: hubEnd, cancel: cancel, done: make(chan struct{})}
	if p.Timeout > 0 {
		s.timer = time.AfterFunc(p.Timeout, func() { s.Kill(fmt.Sprintf("wall-clock timeout %s", p.Timeout)) })
	}
	ip.mu.Lock()
	ip.spokes[pid] = s
	ip.mu.Unlock()
	var once sync.Once
	closeAll := func() {
		once.Do(func() {
			_ = relayHub.Close()
			_ = relaySpoke.Close()
		})
	}
	app := ids.AppID(p.App)
	ip.tap.relays.Add(2)
	go func() {
		defer ip.tap.relays.Done()
		defer closeAll()
		ip.tap.relay(relaySpoke, relayHub, evFrameOut, app, pid)
	}()
	go func() {
		defer ip.tap.relays.Done()
		defer closeAll()
		ip.tap.relay(relayHub, relaySpoke, evFrameIn, app, pid)
	}()
	go s.run(runCtx, spokeEnd)
	return s, nil
}

// released reports whether the spoke of pid has ended.
func (ip *inProcess) released(pid int) bool {
	ip.mu.Lock()
	s := ip.spokes[pid]
	ip.mu.Unlock()
	if s == nil {
		return true
	}
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// goSpoke is one in-process spoke.
type goSpoke struct {
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

// run is what a spoke process does, minus entering the sandbox. An app's
// exit (rawSpoke.exit) ends the goroutine as exiting ends the process: the
// connection closes, and a code other than 0 is the spoke's error.
func (s *goSpoke) run(ctx context.Context, end net.Conn) {
	conn := isc.NewConn(end, isc.SpokeSide, 0)
	defer close(s.done)
	defer conn.Close()
	exit := func(code int) {
		if code != 0 {
			s.err = fmt.Errorf("exit status %d", code)
		}
		runtime.Goexit()
	}
	if err := spoke.Run(context.WithValue(ctx, rawKey{}, rawSpoke{conn: conn, exit: exit}), conn, nil); err != nil {
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
	if s.err != nil {
		return fmt.Errorf("in-process spoke: %w", s.err)
	}
	return nil
}

func (s *goSpoke) PID() int { return s.pid }

var (
	_ hub.Spawner = (*inProcess)(nil)
	_ hub.Spoke   = (*goSpoke)(nil)
)
