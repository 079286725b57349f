package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

// EndSessionsUnder implements state.Sessions in one write transaction.
func (s *Store) EndSessionsUnder(_ context.Context, user ids.UserID, conv ids.ConversationID) ([]ids.ConversationID, error) {
	var ended []ids.ConversationID
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bSessions)
		prefix := sessionID(user, conv+"/")
		var keys [][]byte
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var cur state.Session
			if err := json.Unmarshal(v, &cur); err != nil {
				return fmt.Errorf("decode session: %w", err)
			}
			if err := dropSessionGrants(tx, user, cur.ID); err != nil {
				return err
			}
			keys = append(keys, append([]byte(nil), k...))
			ended = append(ended, cur.Conversation)
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("end sessions of %s under %s: %w", user, conv, err)
	}
	return ended, nil
}
