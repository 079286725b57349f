package hub

import (
	"context"
	"io"
	"net/netip"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
)

// SpokeSpec is what one spoke needs, as the hub (and Options.SpokePolicy)
// decides it. A Spawner turns it into its own confinement: the sandbox's
// policy for a process (sandbox/hubspawn), nothing for a test's in-process
// spoke, which refuses what only a process can honour.
type SpokeSpec struct {
	// App is the app the spoke runs.
	App ids.AppID
	// User is whose invocation the spoke serves ("" for one that serves
	// no user, such as an MCP server's discovery). The hub never starts a
	// spoke for two users.
	User ids.UserID
	// Timeout is the spoke's wall-clock bound; 0 means the spawner's
	// default.
	Timeout time.Duration
	// Domains are the registrable domains the app may reach through the
	// egress proxy; Ports the TCP ports besides 443 it may reach on them.
	Domains []string
	Ports   []int
	// PrivateNets are non-public address blocks the app's egress may
	// reach: the operator's per-app opt-in for an internal server.
	PrivateNets []netip.Prefix
	// AllowExec lets the spoke run another program (external apps: an MCP
	// server).
	AllowExec bool
	// Limits bound the spoke's resources; zero fields take the spawner's
	// defaults.
	Limits SpokeLimits
	// Mounts are the host files and directories the spoke may use.
	Mounts []Mount
}

// SpokeLimits are the resource bounds of one spoke.
type SpokeLimits struct {
	// CPU is its CPU time.
	CPU time.Duration
	// Memory bounds its memory in bytes.
	Memory int64
	// FileSize bounds any file it writes, in bytes.
	FileSize int64
	// OpenFiles bounds its open descriptors.
	OpenFiles uint64
	// Procs bounds its processes and threads.
	Procs uint64
	// Tmp bounds the size of its private /tmp in bytes.
	Tmp int64
}

// Mount makes one host file or directory available inside one spoke.
type Mount struct {
	// Source is the host path, absolute.
	Source string
	// Target is where the spoke sees it; "" means at Source.
	Target string
	// Write lets the spoke change it; otherwise it is read-only.
	Write bool
	// RealOwners shows the source with its host owners and modes (see
	// sandbox.Mount).
	RealOwners bool
}

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

// RearmingSpoke is a Spoke whose wall-clock bound can be restarted: a
// sandboxed process. Only such a spoke is kept warm between invocations
// (warm.go), each of which gets a fresh bound.
type RearmingSpoke interface {
	Spoke
	// Rearm restarts the wall-clock bound at d from now; d <= 0 disarms
	// it. It does not block.
	Rearm(d time.Duration)
}

// UnwrappingSpoke is a Spoke that wraps another (a frame tap); the hub
// looks through it for optional powers such as RearmingSpoke.
type UnwrappingSpoke interface {
	Spoke
	// Unwrap returns the wrapped spoke.
	Unwrap() Spoke
}

// Spawner starts spokes. Production hubs get one that runs sandboxed
// processes (sandbox/hubspawn); tests of the hub's logic rather than the
// sandbox may run spokes in-process (core/hubtest). Wrappers (metrics, the
// invariants harness's frame tap) wrap a Spawner.
type Spawner interface {
	// Start starts one spoke as spec says, or fails without leaving
	// anything running. It may block while the spoke starts; it is
	// called from any goroutine, holding no lock of the hub's.
	Start(ctx context.Context, spec SpokeSpec) (Spoke, error)
}

// PreparingSpawner is a Spawner that can start a spoke ahead of a Start
// it expects: the sandbox's pool (sandbox/hubspawn), whose spokes wait
// confined, holding no app, policy or user, until a Start claims one for
// one invocation. The hub prepares when a turn begins planning, so that
// spokes start while its model thinks.
type PreparingSpawner interface {
	Spawner
	// Prepare says a Start is likely soon. The spawner may start a spoke
	// ahead of it, within its own bounds; it does not block. release says
	// the expectation has passed (the turn's first spoke has started, or
	// the turn ended without one); it does not block and may be called
	// more than once, from any goroutine.
	Prepare() (release func())
}

// UnwrappingSpawner is a Spawner that wraps another (metrics, the
// invariants harness's frame tap); the hub looks through it for optional
// powers such as PreparingSpawner.
type UnwrappingSpawner interface {
	Spawner
	// Unwrap returns the wrapped spawner.
	Unwrap() Spawner
}

// SpawnerFunc is a Spawner written as a function.
type SpawnerFunc func(ctx context.Context, spec SpokeSpec) (Spoke, error)

// Start calls f.
func (f SpawnerFunc) Start(ctx context.Context, spec SpokeSpec) (Spoke, error) { return f(ctx, spec) }

// rearmable returns s, or a spoke it wraps, if its wall-clock bound can be
// restarted.
func rearmable(s Spoke) (RearmingSpoke, bool) {
	for s != nil {
		if r, ok := s.(RearmingSpoke); ok {
			return r, true
		}
		u, ok := s.(UnwrappingSpoke)
		if !ok {
			return nil, false
		}
		s = u.Unwrap()
	}
	return nil, false
}

// preparing returns s, or a spawner it wraps, if it can start spokes
// ahead of need.
func preparing(s Spawner) (PreparingSpawner, bool) {
	for s != nil {
		if p, ok := s.(PreparingSpawner); ok {
			return p, true
		}
		u, ok := s.(UnwrappingSpawner)
		if !ok {
			return nil, false
		}
		s = u.Unwrap()
	}
	return nil, false
}

// rearm restarts s's wall-clock bound at d (d <= 0 disarms it), if it has
// one that can be restarted.
func rearm(s Spoke, d time.Duration) {
	if r, ok := rearmable(s); ok {
		r.Rearm(d)
	}
}

var _ Spawner = SpawnerFunc(nil)
