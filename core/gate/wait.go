package gate

import (
	"context"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

// wait waits for the outcome of prompt id in the store. A wake-up on ch
// (a local answer, or the relay's announcement) and, with a relay, every
// poll interval read the store: an announcement missed while the relay's
// subscription was down costs at most one interval. At the timeout, or
// when ctx ends, the prompt expires with dflt unless an answer was stored
// first.
func (g *Gate) wait(ctx context.Context, id ids.PromptID, ch <-chan struct{}, dflt chat.Decision) (answer, bool) {
	timer := time.NewTimer(g.timeout)
	defer timer.Stop()
	var tick <-chan time.Time
	if g.relay != nil {
		t := time.NewTicker(g.poll)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ch:
		case <-tick:
		case <-timer.C:
			return g.expire(ctx, id, dflt)
		case <-ctx.Done():
			return g.expire(ctx, id, dflt)
		}
		d, ok, err := g.store.Decided(ctx, id)
		if err != nil {
			g.log.Warn("read prompt outcome", "prompt", id, "err", err)
			continue
		}
		if ok {
			return answer{d: d.Decision, by: d.By, replica: d.Replica}, d.Expired
		}
	}
}

// expire stores dflt as the outcome of prompt id, or returns the answer
// stored before it. While the store cannot be reached it retries (as long
// as an audit entry is retried), then gives dflt: Answer refuses answers
// once the prompt is past its ExpiresAt, so none can be stored for it
// after that.
func (g *Gate) expire(ctx context.Context, id ids.PromptID, dflt chat.Decision) (answer, bool) {
	ctx = context.WithoutCancel(ctx)
	window := g.auditRetry
	if window <= 0 {
		window = state.DefaultAuditRetry
	}
	deadline := time.Now().Add(window)
	backoff := 50 * time.Millisecond
	for {
		_, took, err := g.store.DecidePending(ctx, state.Decided{Prompt: id, Decision: dflt, Replica: g.replica, At: g.now(), Expired: true}, nil)
		if err == nil && took {
			return answer{d: dflt}, true
		}
		if err == nil {
			var d state.Decided
			var ok bool
			d, ok, err = g.store.Decided(ctx, id)
			if err == nil && ok {
				return answer{d: d.Decision, by: d.By, replica: d.Replica}, d.Expired
			}
			if err == nil {
				// Neither pending nor decided: the store dropped it
				// (PendingTTL); nobody's answer counted.
				return answer{d: dflt}, true
			}
		}
		if time.Now().Add(backoff).After(deadline) {
			g.log.Error("store the outcome of an expired prompt", "prompt", id, "err", err)
			return answer{d: dflt}, true
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}

// Withdraw ends user's prompts waiting on this replica with their default
// outcome (deny, or cancel for a question), stored as for an expiry, so
// an answer given later changes nothing: after a forget they hold words
// and data the user asked to be forgotten. It returns how many it ended.
func (g *Gate) Withdraw(ctx context.Context, user ids.UserID) int {
	g.mu.Lock()
	var mine []ids.PromptID
	var dflts []chat.Decision
	for id, w := range g.waiters {
		if w.user == user {
			mine = append(mine, id)
			dflts = append(dflts, w.dflt)
		}
	}
	g.mu.Unlock()
	n := 0
	for i, id := range mine {
		_, took, err := g.store.DecidePending(context.WithoutCancel(ctx), state.Decided{Prompt: id, Decision: dflts[i],
			Replica: g.replica, At: g.now(), Expired: true}, nil)
		if err != nil {
			g.log.Error("withdraw prompt", "prompt", id, "err", err)
			continue
		}
		if took {
			n++
			g.wake(id)
		}
	}
	return n
}
