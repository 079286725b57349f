// Package hubspawn runs the hub's spokes as sandboxed processes: it turns
// what the hub says a spoke needs (hub.SpokeSpec) into a sandbox.Policy
// and a started *sandbox.Proc into a hub.Spoke. It is the one place where
// the hub's seam and the sandbox meet, so that core/hub need not import
// the sandbox. Only cli/ wiring, core/hubtest, the evaluation and tests
// import it.
package hubspawn

import (
	"context"
	"io"
	"slices"
	"time"

	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/sandbox"
)

// Starter starts sandboxed spoke processes: *sandbox.Spawner is one.
type Starter interface {
	Start(ctx context.Context, p sandbox.Policy) (*sandbox.Proc, error)
}

// Preparer is a Starter that can start a spoke ahead of a Start it
// expects: *sandbox.Spawner is one (its pool, sandbox.Config.PoolMemory).
type Preparer interface {
	Prepare() (release func())
}

// New returns a hub.Spawner that runs every spoke as a process started by
// s under the policy its spec converts to (Policy). It is a
// hub.PreparingSpawner, which prepares through s when s is a Preparer.
func New(s Starter) hub.Spawner { return processes{s} }

type processes struct{ s Starter }

// Prepare passes the hub's expectation of a start on to the sandbox's
// pool, if the Starter keeps one.
func (ps processes) Prepare() (release func()) {
	if p, ok := ps.s.(Preparer); ok {
		return p.Prepare()
	}
	return func() {}
}

func (ps processes) Start(ctx context.Context, spec hub.SpokeSpec) (hub.Spoke, error) {
	proc, err := ps.s.Start(ctx, Policy(spec))
	if err != nil {
		return nil, err
	}
	return process{proc}, nil
}

// Policy is the sandbox policy of a spoke that needs spec. Every field of
// spec has its counterpart (the test holds it); the policy's Args, which
// only the sandbox's own tests use, stay empty.
func Policy(spec hub.SpokeSpec) sandbox.Policy {
	p := sandbox.Policy{
		App:         string(spec.App),
		Timeout:     spec.Timeout,
		Domains:     slices.Clone(spec.Domains),
		Ports:       slices.Clone(spec.Ports),
		PrivateNets: slices.Clone(spec.PrivateNets),
		AllowExec:   spec.AllowExec,
		Limits:      limits(spec.Limits),
	}
	for _, m := range spec.Mounts {
		p.Mounts = append(p.Mounts, sandbox.Mount{Source: m.Source, Target: m.Target, Write: m.Write, RealOwners: m.RealOwners})
	}
	return p
}

// limits are the sandbox's bounds for l.
func limits(l hub.SpokeLimits) sandbox.Limits {
	return sandbox.Limits{CPU: l.CPU, Memory: l.Memory, FileSize: l.FileSize, OpenFiles: l.OpenFiles, Procs: l.Procs, Tmp: l.Tmp}
}

// process is a spoke process.
type process struct{ p *sandbox.Proc }

func (p process) Conn() io.ReadWriteCloser { return p.p.Conn }
func (p process) Kill(reason string)       { p.p.Kill(reason) }
func (p process) KillReason() string       { return p.p.KillReason() }
func (p process) Wait() error              { return p.p.Wait() }
func (p process) PID() int                 { return p.p.PID }

// Rearm restarts the process's wall-clock bound (warm spokes).
func (p process) Rearm(d time.Duration) { p.p.Rearm(d) }

var (
	_ hub.PreparingSpawner = processes{}
	_ hub.RearmingSpoke    = process{}
	_ Starter              = (*sandbox.Spawner)(nil)
	_ Preparer             = (*sandbox.Spawner)(nil)
)
