package slack

import "sync"

// seenSet remembers the last max keys, to drop redelivered envelopes and
// events. Slack retries within minutes, so a bounded memory is enough; the
// hub's store-backed dedup covers restarts.
type seenSet struct {
	mu    sync.Mutex // guards all following fields
	max   int
	keys  map[string]struct{}
	order []string // ring buffer of keys in insertion order
	next  int
}

func newSeenSet(max int) *seenSet {
	return &seenSet{max: max, keys: make(map[string]struct{}, max)}
}

// first records key and reports whether it was not seen before. The empty
// key is never recorded and always counts as first.
func (s *seenSet) first(key string) bool {
	if key == "" {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[key]; ok {
		return false
	}
	if len(s.order) < s.max {
		s.order = append(s.order, key)
	} else {
		delete(s.keys, s.order[s.next])
		s.order[s.next] = key
		s.next = (s.next + 1) % s.max
	}
	s.keys[key] = struct{}{}
	return true
}

// has reports whether key is remembered, without recording it.
func (s *seenSet) has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.keys[key]
	return ok
}
