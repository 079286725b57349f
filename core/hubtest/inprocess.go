package hubtest

import (
	"context"
	"fmt"
	"net"

	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/spoke/inproc"
)

// InProcess returns a spawner that runs each spoke's code (core/spoke.Serve,
// the same agent loop a spoke process runs) in a goroutine of the test
// binary, talking ISC over a net.Pipe. It confines nothing: no rlimits, no
// seccomp, no namespaces, and every HTTP request the app makes is refused.
// It is New's default, for tests of the hub's own logic (planning, prompts,
// flows between steps, state); tests of what a spoke can or cannot do
// (hostile spokes, raw frames, exits, limits, egress) set Options.Sandboxed.
//
// Specs that only a process can honour (exec for external apps, host
// mounts) are refused with an error, never run unconfined.
func InProcess() hub.Spawner { return inProcess{} }

type inProcess struct{}

func (inProcess) Start(ctx context.Context, spec hub.SpokeSpec) (hub.Spoke, error) {
	if spec.AllowExec || len(spec.Mounts) > 0 {
		return nil, fmt.Errorf("in-process spoke %s: its policy needs a process (exec or mounts); use real spokes", spec.App)
	}
	hubEnd, spokeEnd := net.Pipe()
	return inproc.Start(ctx, hubEnd, spokeEnd, inproc.Options{Timeout: spec.Timeout}), nil
}

var (
	_ hub.Spawner = inProcess{}
	_ hub.Spoke   = (*inproc.Spoke)(nil)
)
