package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

// GetPin implements state.Pins. Pins are kept encoded, so a caller that
// changes a returned pin changes nothing stored.
func (s *Store) GetPin(_ context.Context, server ids.AppID) (state.Pin, bool, error) {
	s.mu.Lock()
	raw, ok := s.pins[server]
	s.mu.Unlock()
	if !ok {
		return state.Pin{}, false, nil
	}
	var p state.Pin
	if err := json.Unmarshal(raw, &p); err != nil {
		return state.Pin{}, false, fmt.Errorf("get pin of %s: %w", server, err)
	}
	return p, true, nil
}

// PutPin implements state.Pins.
func (s *Store) PutPin(_ context.Context, p state.Pin) error {
	if err := state.CheckPin(p); err != nil {
		return err
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("put pin of %s: %w", p.Server, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pins == nil {
		s.pins = map[ids.AppID][]byte{}
	}
	s.pins[p.Server] = raw
	return nil
}

// ListPins implements state.Pins.
func (s *Store) ListPins(ctx context.Context) ([]state.Pin, error) {
	s.mu.Lock()
	servers := slices.SortedFunc(maps.Keys(s.pins), func(a, b ids.AppID) int { return strings.Compare(string(a), string(b)) })
	s.mu.Unlock()
	out := make([]state.Pin, 0, len(servers))
	for _, server := range servers {
		p, ok, err := s.GetPin(ctx, server)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}
