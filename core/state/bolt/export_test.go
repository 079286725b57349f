package bolt

import "go.etcd.io/bbolt"

// DedupKeys counts stored dedup keys, expired or not.
func (s *Store) DedupKeys() int {
	n := 0
	s.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bDedup).Stats().KeyN
		return nil
	})
	return n
}

// SetPurgeEvery makes FirstSeen purge expired keys every n calls.
func (s *Store) SetPurgeEvery(n uint64) { s.purgeEvery = n }
