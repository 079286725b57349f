package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

// storedReplan is a replan question with its expiry.
type storedReplan struct {
	Replan  state.Replan `json:"replan"`
	Expires int64        `json:"expires"` // unix ns
}

// PutReplan implements state.Replans.
func (s *Store) PutReplan(_ context.Context, r state.Replan, ttl time.Duration) error {
	if err := state.CheckReplan(r, ttl); err != nil {
		return err
	}
	v := storedReplan{Replan: r, Expires: s.now().Add(ttl).UnixNano()}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		return putJSON(tx.Bucket(bReplans), sessionID(r.User, r.Conversation), v)
	})
	if err != nil {
		return fmt.Errorf("put replan of %s in %s: %w", r.User, r.Conversation, err)
	}
	return nil
}

// TakeReplan implements state.Replans. The hub takes on every message, and
// a write transaction syncs the file even when it changes nothing, so the
// common case (no question pending) is answered by a read transaction.
func (s *Store) TakeReplan(_ context.Context, user ids.UserID, conv ids.ConversationID) (state.Replan, bool, error) {
	key := sessionID(user, conv)
	var pending bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		pending = tx.Bucket(bReplans).Get(key) != nil
		return nil
	})
	if err != nil || !pending {
		return state.Replan{}, false, wrapTake(user, conv, err)
	}
	var v storedReplan
	found := false
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bReplans)
		raw := b.Get(key)
		if raw == nil {
			return nil // another caller took it between the two transactions
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		found = s.now().UnixNano() < v.Expires
		return b.Delete(key)
	})
	if err != nil || !found {
		return state.Replan{}, false, wrapTake(user, conv, err)
	}
	return v.Replan, true, nil
}

// ForgetReplans implements state.Replans. Keys are user␀conversation, and
// user IDs hold no NUL, so the prefix user␀ selects this user's questions.
func (s *Store) ForgetReplans(_ context.Context, user ids.UserID) (int, error) {
	if user == "" {
		return 0, nil
	}
	prefix := sessionID(user, "")
	now := s.now().UnixNano()
	n := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bReplans)
		var del [][]byte
		c := b.Cursor()
		for k, raw := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, raw = c.Next() {
			var v storedReplan
			if json.Unmarshal(raw, &v) == nil && now < v.Expires {
				n++
			}
			del = append(del, bytes.Clone(k))
		}
		for _, k := range del {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("forget replans of %s: %w", user, err)
	}
	return n, nil
}

func wrapTake(user ids.UserID, conv ids.ConversationID, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("take replan of %s in %s: %w", user, conv, err)
}

// purgeReplans deletes expired questions nobody answered.
func (s *Store) purgeReplans(tx *bbolt.Tx) error {
	now := s.now().UnixNano()
	b := tx.Bucket(bReplans)
	var del [][]byte
	err := b.ForEach(func(k, raw []byte) error {
		var v storedReplan
		if json.Unmarshal(raw, &v) != nil || v.Expires <= now {
			del = append(del, bytes.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range del {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
