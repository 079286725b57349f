package invariants

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/spoke/inproc"
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
type processSource struct{ sp hub.Spawner }

func (s processSource) episode(rec *recorder) episodeSpokes {
	tap := &tapSpawner{inner: s.sp, rec: rec}
	return episodeSpokes{spawner: tap, released: released, relays: &tap.relays}
}

// inProcessSource runs spokes in goroutines (see SpokesInProcess).
type inProcessSource struct {
	// pids numbers the spokes of every episode of the run.
	pids *atomic.Int64
}

func (s inProcessSource) episode(rec *recorder) episodeSpokes {
	ip := &inProcess{tap: &tapSpawner{rec: rec}, pids: s.pids, spokes: map[int]*inproc.Spoke{}}
	return episodeSpokes{spawner: ip, released: ip.released, relays: &ip.tap.relays}
}

// inProcess starts one episode's in-process spokes (core/spoke/inproc),
// each over a net.Pipe through a relay that records every frame as the
// tap does for processes. A hostile app finds its raw connection and its
// exit in its context (rawSpoke).
type inProcess struct {
	tap  *tapSpawner
	pids *atomic.Int64

	mu     sync.Mutex // guards spokes
	spokes map[int]*inproc.Spoke
}

func (ip *inProcess) Start(ctx context.Context, spec hub.SpokeSpec) (hub.Spoke, error) {
	if spec.AllowExec || len(spec.Mounts) > 0 {
		return nil, fmt.Errorf("in-process spoke %s: its policy needs a process (exec or mounts)", spec.App)
	}
	pid := firstFakePID + int(ip.pids.Add(1))
	hubEnd, relayHub := net.Pipe()
	relaySpoke, spokeEnd := net.Pipe()
	var once sync.Once
	closeAll := func() {
		once.Do(func() {
			_ = relayHub.Close()
			_ = relaySpoke.Close()
		})
	}
	app := spec.App
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
	s := inproc.Start(ctx, hubEnd, spokeEnd, inproc.Options{PID: pid, Timeout: spec.Timeout,
		Context: func(ctx context.Context, conn *isc.Conn, exit func(int)) context.Context {
			return context.WithValue(ctx, rawKey{}, rawSpoke{conn: conn, exit: exit})
		}})
	ip.mu.Lock()
	ip.spokes[pid] = s
	ip.mu.Unlock()
	return s, nil
}

// released reports whether the spoke of pid has ended.
func (ip *inProcess) released(pid int) bool {
	ip.mu.Lock()
	s := ip.spokes[pid]
	ip.mu.Unlock()
	return s == nil || s.Ended()
}

var _ hub.Spawner = (*inProcess)(nil)
