package state

import (
	"context"
	"time"
)

// Marks keeps small flags that a platform adapter must see on every replica
// and after a restart: which Slack threads are AI assistant threads, which
// channel threads the bot takes part in. A mark holds no user content, only
// its key.
//
// Marks share nothing with Dedup: FirstSeen of a key does not set the mark
// of the same key, nor the other way round.
type Marks interface {
	// SetMark records key until ttl has passed (ttl <= 0: forever); setting
	// it again renews it. An empty key is refused with ErrInvalid.
	SetMark(ctx context.Context, key string, ttl time.Duration) error
	// HasMark reports whether key is recorded and has not expired.
	HasMark(ctx context.Context, key string) (bool, error)
}
