// Package ids holds the identifier types shared by every layer of SecGPT:
// adapters, the hub, the store and the apps. It imports nothing of the project
// and may be imported by any package.
package ids

import "strings"

// UserID names one human on one platform, e.g. "slack:T01/U02",
// "matrix:@alice:example.org" or "terminal:alice". Memory, grants and sessions
// are keyed by it, so two platforms' users never share state.
type UserID string

// ConversationID names one conversation (a DM, a room thread, a terminal run)
// on the platform the message came from.
type ConversationID string

// AppID names an installed app (one isolated unit: one spoke per invocation),
// e.g. "quick_ride" or "search_gmail".
type AppID string

// SessionID names one session of a user in one conversation. Grants given
// "for this session" are stored with it and end with it.
type SessionID string

// PromptID names one pending permission prompt.
type PromptID string

// Platform returns the part of a UserID before the first colon ("slack",
// "matrix", "terminal"), or "" if there is none.
func (u UserID) Platform() string {
	p, _, ok := strings.Cut(string(u), ":")
	if !ok {
		return ""
	}
	return p
}

// Valid reports whether an AppID is usable as a key: non-empty, at most 64
// bytes, lowercase letters, digits, '_', '-' and '.'.
func (a AppID) Valid() bool {
	if a == "" || len(a) > 64 {
		return false
	}
	for _, r := range a {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
		default:
			return false
		}
	}
	return true
}
