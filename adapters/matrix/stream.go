package matrix

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/core/chat"
)

// streamInterval is the least time between two edits of a streamed reply.
// Homeservers rate-limit messages per user (Synapse's default rc_message is
// 0.2/s with a burst of 10); an edit every 3 s stays inside that with room
// for prompts and other replies.
const streamInterval = 3 * time.Second

// StreamReply posts a placeholder notice and returns a stream that edits
// it (m.replace) as the reply grows. Finish shows the final text as Reply
// would: the first chunk in the edited message, further chunks after it.
func (c *conversation) StreamReply(ctx context.Context) (chat.ReplyStream, error) {
	evt, err := c.sendID(ctx, noticeContent("…"))
	if err != nil {
		return nil, fmt.Errorf("post matrix streamed reply: %w", err)
	}
	return &matrixStream{c: c, evt: evt, now: time.Now}, nil
}

type matrixStream struct {
	c   *conversation
	evt id.EventID
	now func() time.Time

	mu       sync.Mutex // guards the fields below
	last     time.Time
	shown    string
	finished bool
}

func (s *matrixStream) Update(ctx context.Context, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished || s.now().Sub(s.last) < streamInterval {
		return nil
	}
	return s.editLocked(ctx, splitMarkdown(text, maxChunk)[0])
}

// Preconditions: s.mu held.
func (s *matrixStream) editLocked(ctx context.Context, chunk string) error {
	if chunk == s.shown {
		return nil
	}
	content := renderMarkdown(chunk)
	content.SetEdit(s.evt)
	s.last = s.now()
	if err := s.c.send(ctx, content); err != nil {
		return fmt.Errorf("edit matrix streamed reply: %w", err)
	}
	s.shown = chunk
	return nil
}

func (s *matrixStream) Finish(ctx context.Context, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return errors.New("matrix stream already finished")
	}
	s.finished = true
	if text == "" {
		text = "_(empty answer)_"
	}
	chunks := splitMarkdown(text, maxChunk)
	var errs []error
	if err := s.editLocked(ctx, chunks[0]); err != nil {
		errs = append(errs, err)
	}
	for _, ch := range chunks[1:] {
		if err := s.c.send(ctx, renderMarkdown(ch)); err != nil {
			errs = append(errs, fmt.Errorf("post matrix reply: %w", err))
		}
	}
	return errors.Join(errs...)
}

var _ chat.StreamingConversation = (*conversation)(nil)
