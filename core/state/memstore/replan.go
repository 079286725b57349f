package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

type replanEntry struct {
	r       state.Replan
	expires time.Time
}

// PutReplan implements state.Replans.
func (s *Store) PutReplan(_ context.Context, r state.Replan, ttl time.Duration) error {
	if err := state.CheckReplan(r, ttl); err != nil {
		return err
	}
	now := s.now()
	r.Exclude = slices.Clone(r.Exclude)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replans == nil {
		s.replans = map[sessKey]replanEntry{}
	}
	// Questions nobody answered would otherwise stay for the store's life.
	for k, e := range s.replans {
		if !now.Before(e.expires) {
			delete(s.replans, k)
		}
	}
	s.replans[sessKey{r.User, r.Conversation}] = replanEntry{r: r, expires: now.Add(ttl)}
	return nil
}

// TakeReplan implements state.Replans.
func (s *Store) TakeReplan(_ context.Context, user ids.UserID, conv ids.ConversationID) (state.Replan, bool, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	k := sessKey{user, conv}
	e, ok := s.replans[k]
	if !ok {
		return state.Replan{}, false, nil
	}
	delete(s.replans, k)
	if !now.Before(e.expires) {
		return state.Replan{}, false, nil
	}
	e.r.Exclude = slices.Clone(e.r.Exclude)
	return e.r, true, nil
}

// ForgetReplans implements state.Replans.
func (s *Store) ForgetReplans(_ context.Context, user ids.UserID) (int, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, e := range s.replans {
		if k.user != user {
			continue
		}
		if now.Before(e.expires) {
			n++
		}
		delete(s.replans, k)
	}
	return n, nil
}
