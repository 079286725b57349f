package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/secgpt-go/secgpt/core/chat"
)

// maxStreamed bounds the text sent through chat.startStream and
// chat.appendStream together (Slack's limit for one call's markdown_text
// is 12,000 characters). A longer reply stops growing there until Finish
// shows all of it.
const maxStreamed = 12000

// streamUnsupported are chat.startStream's answers that mean this
// workspace or token cannot stream at all: the adapter stops trying and
// edits messages instead. Other refusals fall back for that reply only.
var streamUnsupported = map[string]bool{
	"unknown_method":         true,
	"not_allowed":            true,
	"not_allowed_token_type": true,
	"feature_not_enabled":    true,
	"method_deprecated":      true,
}

// StreamReply returns a stream of the reply. In a thread, it uses Slack's
// native streaming (chat.startStream, chat.appendStream, chat.stopStream);
// at the top of a DM (which Slack does not stream), in a workspace without
// it, or when Slack refuses it for this message, it posts the first text
// and edits that message (chat.update). Nothing is posted before there is
// text, so the first message a notification shows holds the reply's start.
// Either way Finish shows exactly what Reply would (feedback buttons
// included where Reply has them).
func (c *conversation) StreamReply(context.Context) (chat.ReplyStream, error) {
	if c.thread == "" || c.a.noNativeStream.Load() {
		return c.editStream(), nil
	}
	return &nativeStream{c: c}, nil
}

// nativeStream is a reply shown with Slack's streaming methods. Slack
// renders markdown_text itself, and how it treats <!channel>, <@U…> and
// link text naming another host is not documented, so what is streamed is
// made inert (inertMarkdown); Finish replaces it with the reply converted
// and checked as Reply converts it.
type nativeStream struct {
	c *conversation

	mu sync.Mutex // guards all following fields
	// ts is the streamed message, "" until chat.startStream succeeded.
	ts string
	// sent is the inert text streamed so far.
	sent     string
	last     time.Time
	fallback *editFallback // set once Slack refused to stream this reply
	finished bool
}

func (s *nativeStream) Update(ctx context.Context, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return nil
	}
	if s.fallback != nil {
		return s.fallback.Update(ctx, text)
	}
	if s.ts != "" && time.Since(s.last) < s.c.a.cfg.StreamInterval {
		return nil
	}
	safe := inertMarkdown(text)
	if r := []rune(safe); len(r) > maxStreamed {
		safe = string(r[:maxStreamed])
	}
	if strings.TrimSpace(safe) == "" {
		return nil
	}
	s.last = time.Now()
	if s.ts == "" {
		ts, err := s.start(ctx, safe)
		if err != nil {
			if !s.refused(err) {
				return err
			}
			s.fallback = s.c.editStream()
			return s.fallback.Update(ctx, text)
		}
		s.ts, s.sent = ts, safe
		return nil
	}
	// Text is the whole reply so far; only a continuation can be
	// appended. A rewrite (rare) waits for Finish, which shows it.
	delta, ok := strings.CutPrefix(safe, s.sent)
	if !ok || delta == "" {
		return nil
	}
	err := s.c.a.call(ctx, "chat.appendStream", func(ctx context.Context) error {
		_, _, err := s.c.a.api.AppendStreamContext(ctx, s.c.channel, s.ts, slack.MsgOptionMarkdownText(delta))
		return err
	})
	if err == nil {
		s.sent = safe
	}
	return err
}

// start opens the stream with its first text.
func (s *nativeStream) start(ctx context.Context, text string) (string, error) {
	opts := []slack.MsgOption{slack.MsgOptionTS(s.c.thread), slack.MsgOptionMarkdownText(text)}
	if s.c.team != "" && s.c.user != "" {
		// Required outside DMs: who the streamed reply is for.
		opts = append(opts, slack.MsgOptionRecipientUserID(s.c.user), slack.MsgOptionRecipientTeamID(s.c.team))
	}
	var ts string
	err := s.c.a.call(ctx, "chat.startStream", func(ctx context.Context) error {
		var err error
		_, ts, err = s.c.a.api.StartStreamContext(ctx, s.c.channel, opts...)
		return err
	})
	return ts, err
}

// refused reports whether err is Slack declining to stream (rather than a
// failure worth reporting), and remembers a workspace that cannot stream.
func (s *nativeStream) refused(err error) bool {
	code := slackCode(err)
	if streamUnsupported[code] || isNotFound(err) {
		s.c.a.noNativeStream.Store(true)
		s.c.a.log.Info("slack native streaming unavailable, editing messages instead", "error", code)
		return true
	}
	if code == "channel_type_not_supported" || code == "method_not_supported_for_channel_type" || code == "invalid_arguments" {
		s.c.a.log.Info("slack refused to stream this reply, editing a message instead", "error", code)
		return true
	}
	return false
}

func isNotFound(err error) bool {
	var sc slack.StatusCodeError
	return errors.As(err, &sc) && sc.Code == 404
}

// Finish stops the stream and replaces its text with the final reply as
// Reply shows it; a reply too long for one message goes on in further
// messages, the last with the feedback buttons.
func (s *nativeStream) Finish(ctx context.Context, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return errors.New("streamed reply already finished")
	}
	s.finished = true
	if s.fallback == nil && s.ts == "" {
		s.fallback = s.c.editStream() // nothing streamed yet: post it
	}
	if s.fallback != nil {
		return s.fallback.Finish(ctx, text)
	}
	msgs := replyMessages(text)
	var errs []error
	err := s.c.a.call(ctx, "chat.stopStream", func(ctx context.Context) error {
		_, _, err := s.c.a.api.StopStreamContext(ctx, s.c.channel, s.ts)
		return err
	})
	if err != nil {
		errs = append(errs, err)
	}
	for i, sections := range msgs {
		blocks := sectionBlocks(sections)
		if i == len(msgs)-1 && s.c.feedback {
			blocks = append(blocks, feedbackBlock())
		}
		opts := []slack.MsgOption{slack.MsgOptionText(fallback(sections[0]), false), slack.MsgOptionBlocks(blocks...)}
		if i == 0 {
			err = s.c.a.call(ctx, "chat.update stream", func(ctx context.Context) error {
				_, _, _, err := s.c.a.api.UpdateMessageContext(ctx, s.c.channel, s.ts, opts...)
				return err
			})
		} else {
			_, err = s.c.post(ctx, fmt.Sprintf("chat.postMessage stream %d/%d", i+1, len(msgs)), opts...)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// inertMarkdown breaks up what Slack could turn into a mention, a link or
// an unfurl in streamed text that has not been through toMrkdwn yet:
// angle-bracket markup, @-names, Markdown links and URL schemes. The
// joiners are invisible; Finish shows the converted reply instead.
var inertMarkdown = strings.NewReplacer(
	"<", "‹", ">", "›",
	"@", "@\u2060",
	"](", "]\u2060(",
	"://", ":\u2060//",
).Replace

// editFallback is a reply shown by posting its first text and editing
// that message (chat.EditStream), at most once per streamInterval; Finish
// adds the feedback buttons to its last message.
type editFallback struct {
	es *chat.EditStream[[]string]
	// last is how many messages the final reply takes, set by Finish
	// before the final edit and posts, so they know which one is last.
	last int
}

func (c *conversation) editStream() *editFallback {
	f := &editFallback{}
	var ts string
	blocks := func(sections []string, i int) []slack.Block {
		b := sectionBlocks(sections)
		if c.feedback && f.last > 0 && i == f.last-1 {
			b = append(b, feedbackBlock())
		}
		return b
	}
	f.es = &chat.EditStream[[]string]{
		Interval: c.a.cfg.StreamInterval,
		// One Slack message is a list of section texts.
		Split: func(text string) [][]string { return messages(toMrkdwn(text)) },
		Start: func(ctx context.Context, sections []string) error {
			var err error
			ts, err = c.post(ctx, "chat.postMessage stream",
				slack.MsgOptionText(fallback(sections[0]), false), slack.MsgOptionBlocks(blocks(sections, 0)...))
			return err
		},
		Edit: func(ctx context.Context, sections []string) error {
			return c.a.call(ctx, "chat.update stream", func(ctx context.Context) error {
				_, _, _, err := c.a.api.UpdateMessageContext(ctx, c.channel, ts,
					slack.MsgOptionText(fallback(sections[0]), false), slack.MsgOptionBlocks(blocks(sections, 0)...))
				return err
			})
		},
		Post: func(ctx context.Context, i, n int, sections []string) error {
			_, err := c.post(ctx, fmt.Sprintf("chat.postMessage stream %d/%d", i+1, n),
				slack.MsgOptionText(fallback(sections[0]), false), slack.MsgOptionBlocks(blocks(sections, i)...))
			return err
		},
	}
	return f
}

func (f *editFallback) Update(ctx context.Context, text string) error { return f.es.Update(ctx, text) }

func (f *editFallback) Finish(ctx context.Context, text string) error {
	f.last = len(replyMessages(text))
	return f.es.Finish(ctx, text)
}

// replyMessages is what Reply posts for text: its messages, each a list
// of section texts, never none.
func replyMessages(text string) [][]string {
	msgs := messages(toMrkdwn(text))
	if len(msgs) == 0 {
		msgs = messages(toMrkdwn(chat.EmptyAnswer))
	}
	return msgs
}

func sectionBlocks(sections []string) []slack.Block {
	blocks := make([]slack.Block, 0, len(sections))
	for _, sec := range sections {
		blocks = append(blocks, section(sec))
	}
	return blocks
}

var (
	_ chat.StreamingConversation = (*conversation)(nil)
	_ chat.ReplyStream           = (*nativeStream)(nil)
	_ chat.ReplyStream           = (*editFallback)(nil)
)
