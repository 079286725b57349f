package memstore

import (
	"context"
	"slices"
	"strings"

	"github.com/secgpt-go/secgpt/core/ids"
)

// EndSessionsUnder implements state.Sessions.
func (s *Store) EndSessionsUnder(_ context.Context, user ids.UserID, conv ids.ConversationID) ([]ids.ConversationID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ended []ids.ConversationID
	for k, cur := range s.sessions {
		if k.user == user && strings.HasPrefix(string(k.conv), string(conv)+"/") {
			s.dropSessionGrantsLocked(user, cur.ID)
			delete(s.sessions, k)
			ended = append(ended, k.conv)
		}
	}
	slices.Sort(ended)
	return ended, nil
}
