package redis

import (
	"context"
	"encoding/json"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

// allApps is the epoch field of events for every app of a user.
const allApps = "*"

func (r *Relay) eventChannel() string { return r.s.key("userevents") }

// decodeUserEvent reads one user-event message; anything else is
// rejected, since any client of the Redis could publish.
func decodeUserEvent(payload string) (state.UserEvent, error) {
	var e state.UserEvent
	if err := json.Unmarshal([]byte(payload), &e); err != nil {
		return e, fmt.Errorf("decode user event: %w", err)
	}
	if !e.Valid() {
		return e, fmt.Errorf("user event %q for %q: %w", e.Kind, e.User, state.ErrInvalid)
	}
	return e, nil
}

// PublishUserEvent raises the user's epoch (of e.App, or of all the
// user's apps) and announces e to every subscribed replica, in one
// transaction: a replica that misses the announcement still sees the new
// epoch (UserEpoch).
func (r *Relay) PublishUserEvent(ctx context.Context, e state.UserEvent) error {
	if !e.Valid() {
		return fmt.Errorf("publish user event %q for %q: %w", e.Kind, e.User, state.ErrInvalid)
	}
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode user event: %w", err)
	}
	field := string(e.App)
	if field == "" {
		field = allApps
	}
	_, err = r.s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.HIncrBy(ctx, r.s.key("epoch", string(e.User)), field, 1)
		p.Publish(ctx, r.eventChannel(), v)
		return nil
	})
	return r.s.wrap("publish "+e.Kind+" of "+string(e.User), err)
}

// SubscribeUserEvents calls fn for every user event published in this
// deployment (including this replica's own) until ctx is done, then
// returns nil; it resubscribes after failures like Subscribe.
func (r *Relay) SubscribeUserEvents(ctx context.Context, fn func(state.UserEvent)) error {
	return r.subscribe(ctx, r.eventChannel(), "user events", func(payload string) {
		e, err := decodeUserEvent(payload)
		if err != nil {
			r.opts.Logger.Warn("dropping user event", "err", err)
			return
		}
		fn(e)
	})
}

// UserEpoch returns a number that grows with every user event of user
// for app or for all of user's apps: what was started at one epoch is
// stale at any other.
func (r *Relay) UserEpoch(ctx context.Context, user ids.UserID, app ids.AppID) (int64, error) {
	vs, err := r.s.rdb.HMGet(ctx, r.s.key("epoch", string(user)), allApps, string(app)).Result()
	if err != nil {
		return 0, r.s.wrap("read epoch of "+string(user), err)
	}
	var sum int64
	for _, v := range vs {
		if s, ok := v.(string); ok {
			var n int64
			if _, err := fmt.Sscan(s, &n); err != nil {
				return 0, fmt.Errorf("read epoch of %s: %q: %w", user, s, state.ErrInvalid)
			}
			sum += n
		}
	}
	return sum, nil
}
