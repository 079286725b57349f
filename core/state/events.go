package state

import "github.com/secgpt-go/secgpt/core/ids"

// UserEvent says that a user's data or permissions changed on one replica
// (a forget, a revoke, a new session, a denied app), so that every replica
// ends what it holds of the old state: warm MCP servers with their
// memory, prompts waiting for an answer.
type UserEvent struct {
	User ids.UserID `json:"user"`
	// App is the app concerned, "" for every app of the user.
	App ids.AppID `json:"app,omitempty"`
	// Kind is "forget", "revoke", "new" or "deny".
	Kind string `json:"kind"`
	// Replica is the replica it happened on.
	Replica string `json:"replica,omitempty"`
}

// The kinds of UserEvent.
const (
	EventForget = "forget"
	EventRevoke = "revoke"
	EventNew    = "new"
	EventDeny   = "deny"
)

// Valid reports whether e names a user and one of the event kinds.
func (e UserEvent) Valid() bool {
	switch e.Kind {
	case EventForget, EventRevoke, EventNew, EventDeny:
		return e.User != ""
	}
	return false
}
