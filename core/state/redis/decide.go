package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// decideScript takes the pending prompt (KEYS[1]), records its outcome
// (KEYS[2], ARGV[1] for ARGV[2] ms) and stores the grants (KEYS[3], field
// and value pairs from ARGV[3]) in one step: Redis runs a script without
// interleaving, so no replica sees the outcome without the grants or the
// prompt still pending.
var decideScript = goredis.NewScript(`
local p = redis.call('GET', KEYS[1])
if not p then return false end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i+1]) end
return p
`)

// DecidePending implements state.Decisions with one script.
func (s *Store) DecidePending(ctx context.Context, d state.Decided, grants []state.Grant) (vocab.Prompt, bool, error) {
	d, gs, err := state.CheckDecided(d, grants, s.now)
	if err != nil {
		return vocab.Prompt{}, false, err
	}
	dv, err := json.Marshal(d)
	if err != nil {
		return vocab.Prompt{}, false, fmt.Errorf("encode outcome: %w", err)
	}
	args := []any{dv, state.DecidedTTL.Milliseconds()}
	grantsKey := s.key("grants", "-")
	for _, g := range gs {
		v, err := json.Marshal(g)
		if err != nil {
			return vocab.Prompt{}, false, fmt.Errorf("encode grant: %w", err)
		}
		grantsKey = s.key("grants", string(g.User))
		args = append(args, grantField(g.GrantKey, g.Session), v)
	}
	keys := []string{s.key("pend", string(d.Prompt)), s.key("decided", string(d.Prompt)), grantsKey}
	v, err := decideScript.Run(ctx, s.rdb, keys, args...).Text()
	if errors.Is(err, goredis.Nil) {
		return vocab.Prompt{}, false, nil
	}
	if err != nil {
		return vocab.Prompt{}, false, s.wrap("decide prompt "+string(d.Prompt), err)
	}
	var p vocab.Prompt
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		return vocab.Prompt{}, false, fmt.Errorf("decide prompt %s: decode: %w", d.Prompt, err)
	}
	return p, true, nil
}

// Decided implements state.Decisions.
func (s *Store) Decided(ctx context.Context, id ids.PromptID) (state.Decided, bool, error) {
	v, err := s.rdb.Get(ctx, s.key("decided", string(id))).Bytes()
	if errors.Is(err, goredis.Nil) {
		return state.Decided{}, false, nil
	}
	if err != nil {
		return state.Decided{}, false, s.wrap("read outcome of prompt "+string(id), err)
	}
	var d state.Decided
	if err := json.Unmarshal(v, &d); err != nil {
		return state.Decided{}, false, fmt.Errorf("read outcome of prompt %s: decode: %w", id, err)
	}
	return d, true, nil
}
