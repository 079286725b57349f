package chat

import (
	"context"

	"github.com/secgpt-go/secgpt/core/ids"
)

// Notice is a message of the assistant's own to one user outside any
// conversation they started: it goes to their direct messages. The hub
// writes it (say, that a Google account was linked in their name).
type Notice struct {
	// Text is the message (markdown).
	Text string
	// Disconnect, when set, names the account provider ("google") whose
	// Disconnect button goes with the text: a click runs "!disconnect
	// PROVIDER" as the user who clicks, and only the notified user sees it.
	// Where there are no buttons the text says the command.
	Disconnect string
}

// Notifier is an adapter that can reach a user directly (a DM).
type Notifier interface {
	// Notify posts n to user's direct messages. It may block on network
	// I/O and must honour ctx; it is called from outside any turn.
	Notify(ctx context.Context, user ids.UserID, n Notice) error
}
