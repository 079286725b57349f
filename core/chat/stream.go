package chat

import (
	"context"
	"errors"
)

// StreamingConversation is a Conversation that can show a reply while it is
// being written (a model's tokens as they arrive): the terminal prints the
// new text, Slack and Matrix edit one message at a rate they accept.
type StreamingConversation interface {
	Conversation
	// StreamReply starts a reply that grows. It may post a placeholder
	// message and blocks on that I/O; the caller then calls Update any
	// number of times and Finish exactly once, from one goroutine.
	StreamReply(ctx context.Context) (ReplyStream, error)
}

// ReplyStream is one reply being written. Text is always the whole reply so
// far (markdown), never a delta: an adapter may skip intermediate updates
// to stay within a platform's rate limits, and a skipped update loses
// nothing.
type ReplyStream interface {
	// Update shows text as the reply so far. It does not wait for rate
	// limits: an update that comes too soon after the last one shown is
	// kept and shown later (or by Finish).
	Update(ctx context.Context, text string) error
	// Finish shows the final text and ends the stream. After Finish the
	// conversation shows exactly what Reply(text) would have shown.
	Finish(ctx context.Context, text string) error
}

// StreamReply writes a reply through c as it arrives on parts (each part is
// appended to the text so far) when c can stream, and as one Reply of the
// whole text otherwise. It returns the whole text and the first error.
func StreamReply(ctx context.Context, c Conversation, parts <-chan string) (string, error) {
	var text string
	sc, ok := c.(StreamingConversation)
	var s ReplyStream
	if ok {
		var err error
		s, err = sc.StreamReply(ctx)
		if err != nil && !errors.Is(err, ErrNotSupported) {
			return "", err
		}
	}
	updating := s != nil
	for p := range parts {
		text += p
		if updating && s.Update(ctx, text) != nil {
			updating = false // a failed edit: wait for Finish to show it all
		}
	}
	if s != nil {
		return text, s.Finish(ctx, text)
	}
	return text, c.Reply(ctx, text)
}
