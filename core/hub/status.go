package hub

import (
	"context"

	"github.com/secgpt-go/secgpt/core/chat"
)

// status shows progress in the turn's conversation when it can (Slack's
// assistant status, the terminal's status line), naming what runs now.
// Best effort: a conversation without status, or a failed update, changes
// nothing about the turn.
func (t *turn) status(ctx context.Context, text string) {
	if t == nil || t.c == nil {
		return
	}
	if sc, ok := t.c.(chat.StatusConversation); ok {
		_ = sc.Status(ctx, text)
	}
}
