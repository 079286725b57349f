package hub

import (
	"context"
	"sync"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/sandbox"
)

// policy is the sandbox policy of a spoke of the app sp.
func (h *Hub) policy(sp apps.Spec) sandbox.Policy {
	return sandbox.Policy{App: string(sp.ID), Timeout: h.o.SpokeTimeout, Domains: sp.Domains, AllowExec: sp.External, Limits: h.o.Limits}
}

// earlySpoke is a spoke started for an approved plan step before the step's
// inputs are ready, so that its start overlaps the steps and model calls
// before it. It holds nothing until its Init: no task, no data, no grant
// beyond the exec the user approved. A step that does not run kills it.
type earlySpoke struct {
	once sync.Once // the first of take and release wins
	ch   chan earlyResult
}

type earlyResult struct {
	proc *sandbox.Proc
	err  error
}

// startEarly starts a spoke for sp in the background.
func (h *Hub) startEarly(ctx context.Context, sp apps.Spec) *earlySpoke {
	e := &earlySpoke{ch: make(chan earlyResult, 1)}
	pol := h.policy(sp)
	go func() {
		proc, err := h.o.Spawner.Start(ctx, pol)
		e.ch <- earlyResult{proc, err}
	}()
	return e
}

// take returns the early spoke, or starts one now when there is none.
func (e *earlySpoke) take(ctx context.Context, h *Hub, sp apps.Spec) (*sandbox.Proc, error) {
	if e == nil {
		return h.o.Spawner.Start(ctx, h.policy(sp))
	}
	got := false
	var r earlyResult
	e.once.Do(func() {
		got = true
		select {
		case r = <-e.ch:
		case <-ctx.Done():
			r.err = ctx.Err()
			go func() {
				if late := <-e.ch; late.proc != nil {
					late.proc.Kill("request cancelled")
					_ = late.proc.Wait()
				}
			}()
		}
	})
	if !got {
		// Already taken or released: start a spoke of its own.
		return h.o.Spawner.Start(ctx, h.policy(sp))
	}
	return r.proc, r.err
}

// release kills the early spoke if its step never took it.
func (e *earlySpoke) release() {
	if e == nil {
		return
	}
	e.once.Do(func() {
		go func() {
			if r := <-e.ch; r.proc != nil {
				r.proc.Kill("its plan step did not run")
				_ = r.proc.Wait()
			}
		}()
	})
}
