// Package appstate reads and writes the small per-app state space
// (apps.Env.GetState/PutState) as typed JSON lists. Apps use it to keep what
// they did (sent mail, bookings); the evaluation and tests use the same
// helpers, through FromStore, to read that record back out of a state.Store.
//
// Any package may import it; it imports only core/state and core/ids.
package appstate

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

// Reader reads one key of one app-state namespace. An apps.Env is a Reader.
type Reader interface {
	GetState(ctx context.Context, key string) (json.RawMessage, bool, error)
}

// ReadWriter reads and writes keys of one app-state namespace. An apps.Env
// is a ReadWriter.
type ReadWriter interface {
	Reader
	PutState(ctx context.Context, key string, value json.RawMessage) error
}

// ReaderFunc adapts a function to Reader.
type ReaderFunc func(ctx context.Context, key string) (json.RawMessage, bool, error)

// GetState calls f.
func (f ReaderFunc) GetState(ctx context.Context, key string) (json.RawMessage, bool, error) {
	return f(ctx, key)
}

// FromStore binds a store's app state to one user and namespace, e.g. the
// "gmail" namespace of the user whose mailbox an evaluation inspects.
func FromStore(s state.AppState, user ids.UserID, ns string) ReadWriter {
	return storeRW{s: s, user: user, ns: ns}
}

type storeRW struct {
	s    state.AppState
	user ids.UserID
	ns   string
}

func (r storeRW) GetState(ctx context.Context, key string) (json.RawMessage, bool, error) {
	return r.s.GetAppState(ctx, r.user, r.ns, key)
}

func (r storeRW) PutState(ctx context.Context, key string, value json.RawMessage) error {
	return r.s.PutAppState(ctx, r.user, r.ns, key, value)
}

// List reads key as a JSON array of T. A missing key is an empty list.
func List[T any](ctx context.Context, r Reader, key string) ([]T, error) {
	raw, ok, err := r.GetState(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read app state %q: %w", key, err)
	}
	if !ok || len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var out []T
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode app state %q: %w", key, err)
	}
	return out, nil
}

// Append adds items to the JSON array under key.
//
// The read-modify-write is not atomic: two invocations of the same app for
// the same user that append at the same instant can lose one record. Apps
// here append at most once per invocation, and invocations of one user's
// mail or booking apps are not run in parallel by a plan that depends on
// their order, so this is accepted rather than adding a compare-and-swap to
// the Env seam.
func Append[T any](ctx context.Context, rw ReadWriter, key string, items ...T) error {
	cur, err := List[T](ctx, rw, key)
	if err != nil {
		return err
	}
	cur = append(cur, items...)
	raw, err := json.Marshal(cur)
	if err != nil {
		return fmt.Errorf("encode app state %q: %w", key, err)
	}
	if err := rw.PutState(ctx, key, raw); err != nil {
		return fmt.Errorf("write app state %q: %w", key, err)
	}
	return nil
}
