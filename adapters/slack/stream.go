package slack

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/secgpt-go/secgpt/core/chat"
)

// streamInterval is the least time between two edits of a streamed reply.
// chat.update is a Tier 3 method (about 50 calls a minute per workspace);
// one edit a second per reply leaves room for other replies and prompts.
const streamInterval = time.Second

// StreamReply posts a placeholder and returns a stream that edits it as
// the reply grows, at most once per streamInterval. Finish shows the final
// text exactly as Reply would, in the placeholder and, for a long reply,
// in further messages.
func (c *conversation) StreamReply(ctx context.Context) (chat.ReplyStream, error) {
	ts, err := c.post(ctx, "chat.postMessage stream", slack.MsgOptionText("…", false))
	if err != nil {
		return nil, err
	}
	return &slackStream{c: c, ts: ts, now: time.Now}, nil
}

type slackStream struct {
	c   *conversation
	ts  string
	now func() time.Time

	mu       sync.Mutex // guards the fields below
	last     time.Time
	shown    string
	finished bool
}

// Update edits the message when streamInterval has passed since the last
// edit; otherwise the text waits for a later Update or for Finish.
func (s *slackStream) Update(ctx context.Context, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished || s.now().Sub(s.last) < streamInterval {
		return nil
	}
	msgs := messages(toMrkdwn(text))
	if len(msgs) == 0 {
		return nil
	}
	// While streaming, only the first message's worth is shown; the rest
	// comes with Finish.
	return s.editLocked(ctx, msgs[0])
}

// Preconditions: s.mu held.
func (s *slackStream) editLocked(ctx context.Context, sections []string) error {
	key := fmt.Sprint(sections)
	if key == s.shown {
		return nil
	}
	blocks := make([]slack.Block, 0, len(sections))
	for _, sec := range sections {
		blocks = append(blocks, section(sec))
	}
	err := s.c.a.call(ctx, "chat.update stream", func(ctx context.Context) error {
		_, _, _, err := s.c.a.api.UpdateMessageContext(ctx, s.c.channel, s.ts, slack.MsgOptionText(fallback(sections[0]), false), slack.MsgOptionBlocks(blocks...))
		return err
	})
	s.last = s.now()
	if err == nil {
		s.shown = key
	}
	return err
}

// Finish shows the whole reply: its first message in the streamed one,
// the rest posted after it.
func (s *slackStream) Finish(ctx context.Context, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return errors.New("slack stream already finished")
	}
	s.finished = true
	msgs := messages(toMrkdwn(text))
	if len(msgs) == 0 {
		msgs = [][]string{{"_(empty answer)_"}}
	}
	var errs []error
	if err := s.editLocked(ctx, msgs[0]); err != nil {
		errs = append(errs, err)
	}
	for i, sections := range msgs[1:] {
		blocks := make([]slack.Block, 0, len(sections))
		for _, sec := range sections {
			blocks = append(blocks, section(sec))
		}
		_, err := s.c.post(ctx, fmt.Sprintf("chat.postMessage stream %d/%d", i+2, len(msgs)),
			slack.MsgOptionText(fallback(sections[0]), false), slack.MsgOptionBlocks(blocks...))
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

var _ chat.StreamingConversation = (*conversation)(nil)
