package redis

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/secgpt-go/secgpt/core/ids"
)

var unescaper = strings.NewReplacer("%3A", ":", "%25", "%")

// EndSessionsUnder implements state.Sessions: it finds the sessions under
// conv with SCAN (a rare command: the keyspace walk is acceptable) and
// ends each with the script EndSession uses.
func (s *Store) EndSessionsUnder(ctx context.Context, user ids.UserID, conv ids.ConversationID) ([]ids.ConversationID, error) {
	what := fmt.Sprintf("end sessions of %s under %s", user, conv)
	// Escaping is per character, so every thread's key starts with the
	// key of conv + "/".
	base := s.key("sess", string(user)) + ":"
	pattern := globEscaper.Replace(s.key("sess", string(user), string(conv)+"/")) + "*"
	var ended []ids.ConversationID
	iter := s.rdb.Scan(ctx, 0, pattern, 100).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, s.wrap(what, err)
	}
	for _, k := range keys {
		n, err := endScript.Run(ctx, s.rdb, []string{k, s.key("grants", string(user))}).Int()
		if err != nil {
			return ended, s.wrap(what, err)
		}
		if n == 1 {
			ended = append(ended, ids.ConversationID(unescaper.Replace(strings.TrimPrefix(k, base))))
		}
	}
	slices.Sort(ended)
	return ended, nil
}
