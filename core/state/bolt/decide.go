package bolt

import (
	"context"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// DecidePending implements state.Decisions in one write transaction.
// Outcomes older than state.DecidedTTL are purged in the same transaction.
func (s *Store) DecidePending(_ context.Context, d state.Decided, grants []state.Grant) (vocab.Prompt, bool, error) {
	d, gs, err := state.CheckDecided(d, grants, s.now)
	if err != nil {
		return vocab.Prompt{}, false, err
	}
	var p vocab.Prompt
	took := false
	err = s.db.Update(func(tx *bbolt.Tx) error {
		pb := tx.Bucket(bPending)
		v := pb.Get([]byte(d.Prompt))
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("decode prompt: %w", err)
		}
		if err := pb.Delete([]byte(d.Prompt)); err != nil {
			return err
		}
		db, err := tx.CreateBucketIfNotExists(bDecided)
		if err != nil {
			return err
		}
		if err := purgeDecided(db, d); err != nil {
			return err
		}
		if err := putJSON(db, []byte(d.Prompt), d); err != nil {
			return err
		}
		for _, g := range gs {
			b, err := mkBucket(tx, bGrants, string(g.User))
			if err != nil {
				return err
			}
			if err := putJSON(b, grantID(g.GrantKey, g.Session), g); err != nil {
				return err
			}
		}
		took = true
		return nil
	})
	if err != nil {
		return vocab.Prompt{}, false, fmt.Errorf("decide prompt %s: %w", d.Prompt, err)
	}
	return p, took, nil
}

// purgeDecided deletes the outcomes older than state.DecidedTTL before d.
func purgeDecided(b *bbolt.Bucket, d state.Decided) error {
	var old [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var o state.Decided
		if json.Unmarshal(v, &o) != nil || d.At.Sub(o.At) > state.DecidedTTL {
			old = append(old, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Decided implements state.Decisions.
func (s *Store) Decided(_ context.Context, id ids.PromptID) (state.Decided, bool, error) {
	var d state.Decided
	found := false
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bDecided)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(id))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &d)
	})
	if err != nil {
		return state.Decided{}, false, fmt.Errorf("read outcome of prompt %s: %w", id, err)
	}
	return d, found, nil
}
