package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/secgpt-go/secgpt/core/ids"
)

// ErrQuota is returned (wrapped) by PutAppStateWithin for a write that would
// take a (user, namespace) past its quota. Nothing is written.
var ErrQuota = errors.New("state: app state quota exceeded")

// Quota bounds one (user, namespace) of app state. Zero fields are no bound.
type Quota struct {
	// Keys bounds the number of keys.
	Keys int
	// Bytes bounds the sum of len(key)+len(value) over the keys.
	Bytes int64
}

// Default app-state quota per (user, namespace), the defaults of the config
// keys hub.state_quota_keys and hub.state_quota_bytes.
const (
	DefaultQuotaKeys  = 1000
	DefaultQuotaBytes = 8 << 20
)

// AppStateAdmin is what the hub needs of app state beyond reads and writes:
// writes bounded by a quota, and forgetting.
type AppStateAdmin interface {
	// PutAppStateWithin is PutAppState refusing, with an error wrapping
	// ErrQuota, a write after which (user, ns) would hold more than q
	// allows. Overwriting a key counts its new size, not both. The check
	// and the write are one atomic step, so concurrent spokes of one user
	// cannot pass a quota together.
	PutAppStateWithin(ctx context.Context, user ids.UserID, ns, key string, value json.RawMessage, q Quota) error
	// ForgetAppState deletes user's state in namespace ns, or in every
	// namespace when ns is "", and returns how many keys it deleted.
	ForgetAppState(ctx context.Context, user ids.UserID, ns string) (int, error)
	// AddAppStateSet makes key of (user, ns) hold the union of the set it
	// holds (a JSON array of strings; none when absent) and members, as
	// one atomic step: concurrent unions, from any replica, never lose a
	// member. The array holds each member once; no quota applies (the
	// hub keeps its own records this way). A value that is not a JSON
	// array of strings is left as it is and the call fails (ErrInvalid).
	AddAppStateSet(ctx context.Context, user ids.UserID, ns, key string, members ...string) error
}

// UnionSet returns the set raw holds (a JSON array of strings, or nothing
// when raw is empty) with members added, sorted and without duplicates,
// and whether that added a member. Backends call it so that every backend
// keeps and refuses the same sets.
func UnionSet(raw json.RawMessage, members []string) ([]string, bool, error) {
	var have []string
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &have); err != nil || have == nil {
			return nil, false, fmt.Errorf("not a set of strings: %w", ErrInvalid)
		}
	}
	grew := false
	for _, m := range members {
		if !slices.Contains(have, m) {
			have, grew = append(have, m), true
		}
	}
	slices.Sort(have)
	return slices.Compact(have), grew, nil
}

// Usage is what one (user, namespace) holds.
type Usage struct {
	Keys  int
	Bytes int64
}

// CheckQuota decides a write of key with a value of newLen bytes, given the
// namespace's usage and the length of the key's current value (oldLen < 0
// when the key is absent). Backends call it so that every backend counts
// the same way.
func CheckQuota(u Usage, key string, oldLen, newLen int, q Quota) error {
	keys, bytes := u.Keys, u.Bytes+int64(len(key)+newLen)
	if oldLen < 0 {
		keys++
	} else {
		bytes -= int64(len(key) + oldLen)
	}
	// A write that does not grow a namespace already over its quota (one
	// filled before the quota was lowered) is allowed, so apps can shrink.
	switch {
	case q.Keys > 0 && keys > q.Keys && keys > u.Keys:
		return fmt.Errorf("at most %d keys per namespace: %w", q.Keys, ErrQuota)
	case q.Bytes > 0 && bytes > q.Bytes && bytes > u.Bytes:
		return fmt.Errorf("at most %d bytes per namespace (this write would make %d): %w", q.Bytes, bytes, ErrQuota)
	}
	return nil
}
