package bolt

import (
	"context"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

// GetPin implements state.Pins.
func (s *Store) GetPin(_ context.Context, server ids.AppID) (state.Pin, bool, error) {
	var p state.Pin
	found := false
	err := s.db.View(func(tx *bbolt.Tx) error {
		raw := tx.Bucket(bPins).Get([]byte(server))
		if raw == nil {
			return nil
		}
		found = true
		return json.Unmarshal(raw, &p)
	})
	if err != nil {
		return state.Pin{}, false, fmt.Errorf("get pin of %s: %w", server, err)
	}
	return p, found, nil
}

// PutPin implements state.Pins.
func (s *Store) PutPin(_ context.Context, p state.Pin) error {
	if err := state.CheckPin(p); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		return putJSON(tx.Bucket(bPins), []byte(p.Server), p)
	})
	if err != nil {
		return fmt.Errorf("put pin of %s: %w", p.Server, err)
	}
	return nil
}

// ListPins implements state.Pins; bbolt keeps keys sorted.
func (s *Store) ListPins(_ context.Context) ([]state.Pin, error) {
	var out []state.Pin
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bPins).ForEach(func(k, raw []byte) error {
			var p state.Pin
			if err := json.Unmarshal(raw, &p); err != nil {
				return fmt.Errorf("decode pin of %s: %w", k, err)
			}
			out = append(out, p)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list pins: %w", err)
	}
	return out, nil
}
