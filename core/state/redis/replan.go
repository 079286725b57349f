package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

// PutReplan implements state.Replans with SET PX: Redis expires the
// question.
func (s *Store) PutReplan(ctx context.Context, r state.Replan, ttl time.Duration) error {
	if err := state.CheckReplan(r, ttl); err != nil {
		return err
	}
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode replan: %w", err)
	}
	err = s.rdb.Set(ctx, s.key("replan", string(r.User), string(r.Conversation)), v, ttl).Err()
	return s.wrap(fmt.Sprintf("put replan of %s in %s", r.User, r.Conversation), err)
}

// TakeReplan implements state.Replans with GETDEL, which Redis runs
// atomically: exactly one racing caller gets the question.
func (s *Store) TakeReplan(ctx context.Context, user ids.UserID, conv ids.ConversationID) (state.Replan, bool, error) {
	what := fmt.Sprintf("take replan of %s in %s", user, conv)
	v, err := s.rdb.GetDel(ctx, s.key("replan", string(user), string(conv))).Bytes()
	if errors.Is(err, goredis.Nil) {
		return state.Replan{}, false, nil
	}
	if err != nil {
		return state.Replan{}, false, s.wrap(what, err)
	}
	var r state.Replan
	if err := json.Unmarshal(v, &r); err != nil {
		return state.Replan{}, false, fmt.Errorf("%s: decode: %w", what, err)
	}
	return r, true, nil
}

// ForgetReplans implements state.Replans. Escaped parts never hold ':', so
// the pattern matches this user's questions only; Redis has already
// dropped the expired ones, so every key deleted was pending.
func (s *Store) ForgetReplans(ctx context.Context, user ids.UserID) (int, error) {
	what := "forget replans of " + string(user)
	pattern := globEscaper.Replace(s.key("replan", string(user))) + ":*"
	var keys []string
	iter := s.rdb.Scan(ctx, 0, pattern, 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return 0, s.wrap(what, err)
	}
	if len(keys) == 0 {
		return 0, nil
	}
	n, err := s.rdb.Del(ctx, keys...).Result()
	if err != nil {
		return 0, s.wrap(what, err)
	}
	return int(n), nil
}
