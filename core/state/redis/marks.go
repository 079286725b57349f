package redis

import (
	"context"
	"time"
)

// SetMark implements state.Marks with SET PX: Redis expires the mark.
func (s *Store) SetMark(ctx context.Context, key string, ttl time.Duration) error {
	if err := need("mark key", key); err != nil {
		return err
	}
	if ttl < 0 {
		ttl = 0
	}
	return s.wrap("set mark "+key, s.rdb.Set(ctx, s.key("mark", key), 1, ttl).Err())
}

// HasMark implements state.Marks.
func (s *Store) HasMark(ctx context.Context, key string) (bool, error) {
	if err := need("mark key", key); err != nil {
		return false, err
	}
	n, err := s.rdb.Exists(ctx, s.key("mark", key)).Result()
	if err != nil {
		return false, s.wrap("read mark "+key, err)
	}
	return n == 1, nil
}
