package memstore

import (
	"context"
	"time"
)

// Marks share the dedup map (same expiry semantics) under a prefix that
// starts with a NUL, which platform event ids never hold.
const markPrefix = "\x00mark\x00"

// SetMark implements state.Marks.
func (s *Store) SetMark(_ context.Context, key string, ttl time.Duration) error {
	if err := need("mark key", key); err != nil {
		return err
	}
	var exp time.Time
	if ttl > 0 {
		exp = s.now().Add(ttl)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dedup[markPrefix+key] = exp
	return nil
}

// HasMark implements state.Marks.
func (s *Store) HasMark(_ context.Context, key string) (bool, error) {
	if err := need("mark key", key); err != nil {
		return false, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.dedup[markPrefix+key]
	return ok && (exp.IsZero() || now.Before(exp)), nil
}
