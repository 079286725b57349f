package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// Marks live in the dedup bucket, whose values are the same expiry stamps
// and whose purge already drops expired keys. The prefix starts with a NUL
// that platform event ids never hold, so a mark never answers FirstSeen.
const markPrefix = "\x00mark\x00"

// SetMark implements state.Marks.
func (s *Store) SetMark(_ context.Context, key string, ttl time.Duration) error {
	if err := need("mark key", key); err != nil {
		return err
	}
	var exp int64
	if ttl > 0 {
		exp = s.now().Add(ttl).UnixNano()
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bDedup).Put([]byte(markPrefix+key), itob(uint64(exp)))
	})
	if err != nil {
		return fmt.Errorf("set mark %s: %w", key, err)
	}
	return nil
}

// HasMark implements state.Marks.
func (s *Store) HasMark(_ context.Context, key string) (bool, error) {
	if err := need("mark key", key); err != nil {
		return false, err
	}
	now := s.now().UnixNano()
	found := false
	err := s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bDedup).Get([]byte(markPrefix + key)); len(v) == 8 {
			exp := int64(binary.BigEndian.Uint64(v))
			found = exp == 0 || now < exp
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("read mark %s: %w", key, err)
	}
	return found, nil
}
