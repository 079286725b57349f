package hub

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
)

// errForgotten is the cause a forget stops the user's running requests
// with.
var errForgotten = errors.New("the user asked to forget what was kept")

// stoppedReply answers a request that a forget stopped.
const stoppedReply = "I stopped this request: you asked me to forget while it was running, so nothing it found or said was kept. Ask again if you still want it."

// stopWait bounds how long a forget waits for the requests it stopped to
// end before it deletes: their spokes die with them, and a server still
// running with its data folder mounted would write it back.
const stopWait = 10 * time.Second

// running is the requests in progress, by user, so that a forget can stop
// them: what they would remember or store after it (a fact, an app's
// memory or state, a replan question) would bring back what the user was
// just told is gone.
type running struct {
	mu    sync.Mutex // guards turns and forgetting
	turns map[ids.UserID]map[*runningTurn]bool
	// forgetting holds, for a user whose forget is in progress, a channel
	// closed when it has answered: the user's requests wait for it to
	// start, so none reads what is being deleted and writes it back.
	forgetting map[ids.UserID]chan struct{}
}

// runningTurn is one request in progress (turn.running).
type runningTurn struct {
	// ctx is what the request runs in; a stop cancels it with
	// errForgotten.
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when the request has ended
	// gate orders the request's writes against a stop: a write holds it
	// shared from its check to its end, a stop alone while it cancels. So
	// a write either ends before the stop, and the forget that follows
	// deletes what it wrote, or finds the request stopped. One per
	// request: a stop waits only for the writes of the requests it stops.
	gate sync.RWMutex
}

func newRunning() *running {
	return &running{turns: map[ids.UserID]map[*runningTurn]bool{}, forgetting: map[ids.UserID]chan struct{}{}}
}

// start records a request of user as running and returns it, with the
// function that records its end. It runs in rt.ctx, which a forget of the
// user cancels with errForgotten; whatever it writes goes through
// rt.keep. While a forget of the user is in progress (hold), start waits
// for it to have answered.
func (r *running) start(ctx context.Context, user ids.UserID) (*runningTurn, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	rt := &runningTurn{ctx: ctx, cancel: cancel, done: make(chan struct{})}
	r.mu.Lock()
	for ch := r.forgetting[user]; ch != nil; ch = r.forgetting[user] {
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		r.mu.Lock()
		if ctx.Err() != nil {
			break
		}
	}
	if r.turns[user] == nil {
		r.turns[user] = map[*runningTurn]bool{}
	}
	r.turns[user][rt] = true
	r.mu.Unlock()
	return rt, func() {
		r.mu.Lock()
		delete(r.turns[user], rt)
		if len(r.turns[user]) == 0 {
			delete(r.turns, user)
		}
		r.mu.Unlock()
		close(rt.done)
		cancel(nil)
	}
}

// hold marks a forget of user in progress, after any other forget of
// the user has answered, until release is called (once the forget has
// answered): the user's requests wait to start until then.
func (r *running) hold(ctx context.Context, user ids.UserID) (release func()) {
	r.mu.Lock()
	for ch := r.forgetting[user]; ch != nil; ch = r.forgetting[user] {
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return func() {}
		}
		r.mu.Lock()
	}
	ch := make(chan struct{})
	r.forgetting[user] = ch
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			delete(r.forgetting, user)
			r.mu.Unlock()
			close(ch)
		})
	}
}

// stop cancels user's running requests with errForgotten, each once its
// writes in progress have ended, and returns a channel per request,
// closed when it has ended.
func (r *running) stop(user ids.UserID) []<-chan struct{} {
	r.mu.Lock()
	rts := make([]*runningTurn, 0, len(r.turns[user]))
	for rt := range r.turns[user] {
		rts = append(rts, rt)
	}
	r.mu.Unlock()
	out := make([]<-chan struct{}, 0, len(rts))
	for _, rt := range rts {
		rt.gate.Lock()
		rt.cancel(errForgotten)
		rt.gate.Unlock()
		out = append(out, rt.done)
	}
	return out
}

// keep runs write, made for the request rt, unless a forget has stopped
// it (errForgotten). A nil rt (a turn that is no request: the planner's
// probe for a replan) writes.
func (rt *runningTurn) keep(write func() error) error {
	if rt == nil {
		return write()
	}
	rt.gate.RLock()
	defer rt.gate.RUnlock()
	if stopped(rt.ctx) {
		return errForgotten
	}
	return write()
}

// stopped reports whether a forget stopped the request running in ctx.
func stopped(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errForgotten)
}

// stopRunning stops user's running requests on this replica and waits
// (up to stopWait) until they have ended; it returns how many it stopped.
func (h *Hub) stopRunning(ctx context.Context, user ids.UserID) int {
	dones := h.running.stop(user)
	if len(dones) == 0 {
		return 0
	}
	timer := time.NewTimer(stopWait)
	defer timer.Stop()
	for _, d := range dones {
		select {
		case <-d:
		case <-timer.C:
			h.log.Warn("forget: stopped requests still running", "user", user, "after", stopWait)
			return len(dones)
		case <-ctx.Done():
			return len(dones)
		}
	}
	h.log.Info("requests stopped by a forget", "user", user, "n", len(dones))
	return len(dones)
}
