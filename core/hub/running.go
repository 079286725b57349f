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
	// gate orders the writes made for requests against stops: a write
	// holds it shared from its check to its end, a stop alone while it
	// cancels. So a write either ends before the stop, and the forget
	// that follows deletes what it wrote, or finds its request stopped.
	gate sync.RWMutex

	mu    sync.Mutex // guards turns and forgetting
	turns map[ids.UserID]map[*turn]*runningTurn
	// forgetting holds, for a user whose forget is in progress, a channel
	// closed when it has answered: the user's requests wait for it to
	// start, so none reads what is being deleted and writes it back.
	forgetting map[ids.UserID]chan struct{}
}

// runningTurn is one request in progress.
type runningTurn struct {
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when the request has ended
}

func newRunning() *running {
	return &running{turns: map[ids.UserID]map[*turn]*runningTurn{}, forgetting: map[ids.UserID]chan struct{}{}}
}

// start records t as running and returns the context it runs in, which a
// forget of t's user cancels with errForgotten, and the function that
// records its end. Whatever the request writes after start goes through
// keep with that context. While a forget of the user is in progress
// (hold), start waits for it to have answered.
func (r *running) start(ctx context.Context, t *turn) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	rt := &runningTurn{cancel: cancel, done: make(chan struct{})}
	r.mu.Lock()
	for ch := r.forgetting[t.user]; ch != nil; ch = r.forgetting[t.user] {
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
	if r.turns[t.user] == nil {
		r.turns[t.user] = map[*turn]*runningTurn{}
	}
	r.turns[t.user][t] = rt
	r.mu.Unlock()
	return ctx, func() {
		r.mu.Lock()
		delete(r.turns[t.user], t)
		if len(r.turns[t.user]) == 0 {
			delete(r.turns, t.user)
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

// stop cancels user's running requests with errForgotten and returns
// a channel per request, closed when it has ended.
func (r *running) stop(user ids.UserID) []<-chan struct{} {
	r.gate.Lock()
	defer r.gate.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []<-chan struct{}
	for _, rt := range r.turns[user] {
		rt.cancel(errForgotten)
		out = append(out, rt.done)
	}
	return out
}

// keep runs write, made for the request running in ctx, unless a forget
// has stopped the request (errForgotten).
func (r *running) keep(ctx context.Context, write func() error) error {
	r.gate.RLock()
	defer r.gate.RUnlock()
	if stopped(ctx) {
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
