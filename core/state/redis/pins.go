package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

// Pins are one hash, field server → state.Pin: a handful of servers, read
// at start and by secgpt mcp pins.
func (s *Store) pinsKey() string { return s.key("pins") }

// GetPin implements state.Pins.
func (s *Store) GetPin(ctx context.Context, server ids.AppID) (state.Pin, bool, error) {
	what := "get pin of " + string(server)
	raw, err := s.rdb.HGet(ctx, s.pinsKey(), string(server)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return state.Pin{}, false, nil
	}
	if err != nil {
		return state.Pin{}, false, s.wrap(what, err)
	}
	var p state.Pin
	if err := json.Unmarshal(raw, &p); err != nil {
		return state.Pin{}, false, fmt.Errorf("%s: decode: %w", what, err)
	}
	return p, true, nil
}

// PutPin implements state.Pins.
func (s *Store) PutPin(ctx context.Context, p state.Pin) error {
	if err := state.CheckPin(p); err != nil {
		return err
	}
	v, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode pin of %s: %w", p.Server, err)
	}
	return s.wrap("put pin of "+string(p.Server), s.rdb.HSet(ctx, s.pinsKey(), string(p.Server), v).Err())
}

// ListPins implements state.Pins.
func (s *Store) ListPins(ctx context.Context) ([]state.Pin, error) {
	all, err := s.rdb.HGetAll(ctx, s.pinsKey()).Result()
	if err != nil {
		return nil, s.wrap("list pins", err)
	}
	out := make([]state.Pin, 0, len(all))
	for server, raw := range all {
		var p state.Pin
		if err := json.Unmarshal([]byte(raw), &p); err != nil {
			return nil, fmt.Errorf("list pins: decode pin of %s: %w", server, err)
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b state.Pin) int { return strings.Compare(string(a.Server), string(b.Server)) })
	return out, nil
}
