package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// RelayOptions configures a Relay. The zero value is usable.
type RelayOptions struct {
	// Logger receives subscription errors; nil means slog.Default().
	Logger *slog.Logger
	// OnSubscribe, if set, is called each time Subscribe has (re)joined the
	// channel; answers published before that are not delivered.
	OnSubscribe func()
	// MaxBackoff caps the wait between resubscription attempts; 0 means 5 s.
	MaxBackoff time.Duration
}

// Relay carries prompt answers between the replicas of one deployment over
// a Redis pub/sub channel, and tracks which replicas are alive. It shares
// its Store's connection pool.
type Relay struct {
	s    *Store
	opts RelayOptions
}

// Relay returns the store's relay.
func (s *Store) Relay(opts RelayOptions) *Relay {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	return &Relay{s: s, opts: opts}
}

// relayed is the message on the channel.
type relayed struct {
	ID       ids.PromptID   `json:"id"`
	Decision vocab.Decision `json:"decision"`
	By       ids.UserID     `json:"by"`
}

// decodeRelayed reads one channel message; anything that is not a valid
// answer of some prompt (a permission decision, or a question's answer) is
// rejected, since any client of the Redis could publish. A message only
// wakes the waiting replica, which acts on the outcome in the store.
func decodeRelayed(payload string) (relayed, error) {
	var m relayed
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		return m, fmt.Errorf("decode relayed answer: %w", err)
	}
	if m.ID == "" || !m.Decision.Known() {
		return m, fmt.Errorf("relayed answer %q with decision %q: %w", m.ID, m.Decision, state.ErrInvalid)
	}
	return m, nil
}

func (r *Relay) channel() string { return r.s.key("prompts") }

// Publish announces to every subscribed replica that prompt id was decided
// by user by. Publishing reaches only replicas subscribed at that moment.
func (r *Relay) Publish(ctx context.Context, id ids.PromptID, d vocab.Decision, by ids.UserID) error {
	v, err := json.Marshal(relayed{ID: id, Decision: d, By: by})
	if err != nil {
		return fmt.Errorf("encode relayed answer: %w", err)
	}
	return r.s.wrap("publish answer to prompt "+string(id), r.s.rdb.Publish(ctx, r.channel(), v).Err())
}

// Subscribe calls fn for every answer published in this deployment
// (including this replica's own) until ctx is done, then returns nil. fn
// runs on Subscribe's goroutine, one call at a time. When the subscription
// fails (a Redis outage) it resubscribes with exponential backoff;
// announcements published meanwhile are lost, which the gate covers by
// reading the stored outcome (state.Decisions) on a poll and at timeout.
func (r *Relay) Subscribe(ctx context.Context, fn func(id ids.PromptID, d vocab.Decision, by ids.UserID)) error {
	return r.subscribe(ctx, r.channel(), "prompt answers", func(payload string) {
		m, err := decodeRelayed(payload)
		if err != nil {
			r.opts.Logger.Warn("dropping relayed message", "err", err)
			return
		}
		fn(m.ID, m.Decision, m.By)
	})
}

// subscribe hands every message of channel to fn until ctx is done,
// resubscribing with exponential backoff when the subscription fails.
func (r *Relay) subscribe(ctx context.Context, channel, what string, fn func(payload string)) error {
	const minBackoff = 50 * time.Millisecond
	backoff := minBackoff
	for {
		joined, err := r.subscribeOnce(ctx, channel, what, fn)
		if ctx.Err() != nil {
			return nil
		}
		if joined {
			backoff = minBackoff
		}
		r.opts.Logger.Warn("relay subscription lost; resubscribing", "channel", what, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, r.opts.MaxBackoff)
	}
}

// subscribeOnce subscribes and delivers messages until an error. joined
// reports whether the subscription was confirmed first.
func (r *Relay) subscribeOnce(ctx context.Context, channel, what string, fn func(string)) (joined bool, err error) {
	ps := r.s.rdb.Subscribe(ctx, channel)
	defer ps.Close()
	// A blocked receive does not watch ctx; closing the subscription ends it.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()
	// The first reply confirms the subscription (or reports the outage).
	if _, err := ps.Receive(ctx); err != nil {
		return false, r.s.wrap("subscribe to "+what, err)
	}
	if r.opts.OnSubscribe != nil {
		r.opts.OnSubscribe()
	}
	for {
		msg, err := ps.ReceiveMessage(ctx)
		if err != nil {
			return true, r.s.wrap("receive "+what, err)
		}
		fn(msg.Payload)
	}
}

// Heartbeat records that replica replicaID is alive for the next ttl. A
// replica calls it more often than ttl (say every ttl/3).
func (r *Relay) Heartbeat(ctx context.Context, replicaID string, ttl time.Duration) error {
	if replicaID == "" || ttl <= 0 {
		return fmt.Errorf("heartbeat of %q for %v: %w", replicaID, ttl, state.ErrInvalid)
	}
	now := r.s.now().UTC().Format(time.RFC3339Nano)
	err := r.s.rdb.Set(ctx, r.s.key("replica", replicaID), now, ttl).Err()
	return r.s.wrap("heartbeat of replica "+replicaID, err)
}

// Alive reports whether replicaID sent a heartbeat that has not expired.
func (r *Relay) Alive(ctx context.Context, replicaID string) (bool, error) {
	if replicaID == "" {
		return false, errors.New("alive: empty replica id")
	}
	n, err := r.s.rdb.Exists(ctx, r.s.key("replica", replicaID)).Result()
	if err != nil {
		return false, r.s.wrap("check replica "+replicaID, err)
	}
	return n == 1, nil
}
