package state

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrUnaudited is returned (wrapped) by AppendDurable when an audit entry
// could not be written even after retries. An action whose decision or flow
// carries it does not run: the audit log is the record of what ran.
var ErrUnaudited = errors.New("the audit log could not be written")

// DefaultAuditRetry is how long AppendDurable keeps retrying an entry the
// store could not take.
const DefaultAuditRetry = 5 * time.Second

// AppendDurable appends e to a, retrying with exponential backoff (50 ms
// doubling to 1 s) for as long as the store reports ErrUnavailable and
// within has not passed (within <= 0: DefaultAuditRetry). It does not give
// up early when ctx ends: an entry for something that happened must be
// written even when the request that caused it was cancelled. The error,
// if any, wraps ErrUnaudited and the store's last error.
func AppendDurable(ctx context.Context, a Audit, e AuditEvent, within time.Duration) error {
	if within <= 0 {
		within = DefaultAuditRetry
	}
	ctx = context.WithoutCancel(ctx)
	deadline := time.Now().Add(within)
	backoff := 50 * time.Millisecond
	for {
		err := a.AppendAudit(ctx, e)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrUnavailable) || time.Now().Add(backoff).After(deadline) {
			return fmt.Errorf("%w: %s entry: %w", ErrUnaudited, e.Type, err)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}
