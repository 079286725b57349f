package matrix

import (
	"context"
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/core/chat"
)

// streamInterval is the least time between two edits of a streamed reply.
// Homeservers rate-limit messages per user (Synapse's default rc_message is
// 0.2/s with a burst of 10); an edit every 3 s stays inside that with room
// for prompts and other replies.
const streamInterval = 3 * time.Second

// StreamReply returns a stream that posts the reply's first text as a new
// event once there is some, and then edits it (m.replace) as the reply
// grows, at most once per streamInterval (chat.EditStream does the
// throttling). No "…" placeholder is posted first: a notification shows
// the first event, so that event carries real text. Finish shows the final
// text as Reply would: the first chunk in the edited message, further
// chunks after it.
func (c *conversation) StreamReply(context.Context) (chat.ReplyStream, error) {
	var evt id.EventID
	return &chat.EditStream[string]{
		Interval: streamInterval,
		Split: func(text string) []string {
			if strings.TrimSpace(text) == "" {
				return nil
			}
			return splitMarkdown(text, maxChunk)
		},
		Start: func(ctx context.Context, chunk string) error {
			e, err := c.sendID(ctx, renderMarkdown(chunk))
			if err != nil {
				return fmt.Errorf("post matrix streamed reply: %w", err)
			}
			evt = e
			return nil
		},
		Edit: func(ctx context.Context, chunk string) error {
			content := renderMarkdown(chunk)
			content.SetEdit(evt)
			if err := c.send(ctx, content); err != nil {
				return fmt.Errorf("edit matrix streamed reply: %w", err)
			}
			return nil
		},
		Post: func(ctx context.Context, _, _ int, chunk string) error {
			if err := c.send(ctx, renderMarkdown(chunk)); err != nil {
				return fmt.Errorf("post matrix reply: %w", err)
			}
			return nil
		},
	}, nil
}

var _ chat.StreamingConversation = (*conversation)(nil)
