package slack

import (
	"context"
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/secgpt-go/secgpt/core/chat"
)

// streamInterval is the least time between two edits of a streamed reply.
// chat.update is a Tier 3 method (about 50 calls a minute per workspace);
// one edit a second per reply leaves room for other replies and prompts.
const streamInterval = time.Second

// StreamReply posts a placeholder and returns a stream that edits it as
// the reply grows, at most once per streamInterval (chat.EditStream does
// the throttling). Finish shows the final text exactly as Reply would, in
// the placeholder and, for a long reply, in further messages.
func (c *conversation) StreamReply(ctx context.Context) (chat.ReplyStream, error) {
	ts, err := c.post(ctx, "chat.postMessage stream", slack.MsgOptionText("…", false))
	if err != nil {
		return nil, err
	}
	return &chat.EditStream[[]string]{
		Interval: streamInterval,
		// One Slack message is a list of section texts.
		Split: func(text string) [][]string { return messages(toMrkdwn(text)) },
		Edit: func(ctx context.Context, sections []string) error {
			return c.a.call(ctx, "chat.update stream", func(ctx context.Context) error {
				_, _, _, err := c.a.api.UpdateMessageContext(ctx, c.channel, ts,
					slack.MsgOptionText(fallback(sections[0]), false), slack.MsgOptionBlocks(sectionBlocks(sections)...))
				return err
			})
		},
		Post: func(ctx context.Context, i, n int, sections []string) error {
			_, err := c.post(ctx, fmt.Sprintf("chat.postMessage stream %d/%d", i+1, n),
				slack.MsgOptionText(fallback(sections[0]), false), slack.MsgOptionBlocks(sectionBlocks(sections)...))
			return err
		},
	}, nil
}

func sectionBlocks(sections []string) []slack.Block {
	blocks := make([]slack.Block, 0, len(sections))
	for _, sec := range sections {
		blocks = append(blocks, section(sec))
	}
	return blocks
}

var _ chat.StreamingConversation = (*conversation)(nil)
