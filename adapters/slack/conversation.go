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
	"github.com/secgpt-go/secgpt/core/ids"
)

// conversation is one message's way back into Slack: a DM or a thread.
type conversation struct {
	a       *Adapter
	channel string
	// thread is the thread to answer in; "" posts at the top of a DM.
	thread string
	// user is the Slack id of the person who asked; team is their
	// workspace ("" where not known).
	user, team string
	// assistant is set for an AI assistant thread, before the assistant
	// gets the conversation.
	assistant bool
	// feedback puts the feedback buttons under each reply: set for the
	// conversation the assistant answers in, not for the adapter's own
	// notices ("please wait").
	feedback bool

	mu sync.Mutex // guards all following fields
	// statusTS is the status message's ts, or "" when none is shown.
	statusTS string
	// statusText is what the status message says.
	statusText string
}

func (c *conversation) post(ctx context.Context, what string, opts ...slack.MsgOption) (string, error) {
	// No unfurling: Slack would fetch any URL in an answer, and a URL that
	// an app's output smuggled in could carry the user's data to its host.
	opts = append(opts, slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionDisableMediaUnfurl())
	if c.thread != "" {
		opts = append(opts, slack.MsgOptionTS(c.thread))
	}
	var ts string
	err := c.a.call(ctx, what, func(ctx context.Context) error {
		var err error
		_, ts, err = c.a.api.PostMessageContext(ctx, c.channel, opts...)
		return err
	})
	return ts, err
}

// Reply posts text (markdown) as one or more messages, converted to mrkdwn
// and split to fit Slack's limits. A message that still fails after retries
// is logged and reported; later messages are still tried, so one bad chunk
// does not swallow the rest.
func (c *conversation) Reply(ctx context.Context, text string) error {
	msgs := replyMessages(text)
	var errs []error
	for i, sections := range msgs {
		blocks := sectionBlocks(sections)
		if i == len(msgs)-1 && c.feedback {
			blocks = append(blocks, feedbackBlock())
		}
		_, err := c.post(ctx, fmt.Sprintf("chat.postMessage reply %d/%d", i+1, len(msgs)),
			slack.MsgOptionText(fallback(sections[0]), false), slack.MsgOptionBlocks(blocks...))
		if err != nil {
			c.a.log.Error("slack reply not delivered", "channel", c.channel, "thread", c.thread, "part", i+1, "err", err)
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// Prompt posts a permission prompt with its four buttons.
func (c *conversation) Prompt(ctx context.Context, p chat.Prompt) error {
	blocks, err := promptBlocks(p)
	if err != nil {
		return fmt.Errorf("render prompt %s: %w", p.ID, err)
	}
	c.a.remember(&shownPrompt{p: p, channel: c.channel, postedAt: time.Now()})
	ts, err := c.post(ctx, "chat.postMessage prompt", slack.MsgOptionText(escape(fallback(chat.PromptText(p))), false), slack.MsgOptionBlocks(blocks...))
	c.a.posted(ctx, p.ID, ts)
	if err != nil {
		c.a.log.Error("slack prompt not delivered", "prompt", p.ID, "err", err)
		return err
	}
	return nil
}

// Resolved updates the prompt's message to show the outcome and drop the
// buttons.
func (c *conversation) Resolved(ctx context.Context, p chat.Prompt, d chat.Decision, by ids.UserID, expired bool) error {
	return c.a.resolve(ctx, p, d, by, expired)
}

// Status shows text in a status message, posted once and then updated in
// place; "" deletes it.
func (c *conversation) Status(ctx context.Context, text string) error {
	if c.assistant {
		return c.assistantStatus(ctx, text)
	}
	if text == "" {
		return c.clearStatus(ctx)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rendered := statusText(text)
	opt := slack.MsgOptionText(rendered, false)
	if c.statusTS == "" {
		ts, err := c.post(ctx, "chat.postMessage status", opt)
		if err != nil {
			return err
		}
		c.statusTS, c.statusText = ts, rendered
		return nil
	}
	if rendered == c.statusText {
		return nil
	}
	err := c.a.call(ctx, "chat.update status", func(ctx context.Context) error {
		_, _, _, err := c.a.api.UpdateMessageContext(ctx, c.channel, c.statusTS, opt)
		return err
	})
	if err == nil {
		c.statusText = rendered
	}
	return err
}

// startWorking shows the working status before the assistant says anything.
func (c *conversation) startWorking(ctx context.Context) {
	if err := c.Status(ctx, c.a.cfg.WorkingText); err != nil {
		c.a.log.Warn("slack status not shown", "err", err)
	}
}

// assistantStatus shows text under the thread with
// assistant.threads.setStatus, Slack's own "is thinking" line, instead of
// a message posted and deleted; "" clears it (a reply clears it too).
func (c *conversation) assistantStatus(ctx context.Context, text string) error {
	text = strings.TrimSpace(truncate(strings.Join(strings.Fields(text), " "), 100))
	c.mu.Lock()
	defer c.mu.Unlock()
	if text == c.statusText {
		return nil
	}
	params := slack.AssistantThreadsSetStatusParameters{ChannelID: c.channel, ThreadTS: c.thread, Status: text}
	if text == c.a.cfg.WorkingText {
		// Before an app is named, Slack rotates these in the status line.
		params.LoadingMessages = c.a.cfg.LoadingMessages
	}
	err := c.a.call(ctx, "assistant.threads.setStatus", func(ctx context.Context) error {
		return c.a.api.SetAssistantThreadsStatusContext(ctx, params)
	})
	if err == nil {
		c.statusText = text
	}
	return err
}

func (c *conversation) clearStatus(ctx context.Context) error {
	if c.assistant {
		return c.assistantStatus(ctx, "")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.statusTS == "" {
		return nil
	}
	ts := c.statusTS
	c.statusTS, c.statusText = "", ""
	err := c.a.call(ctx, "chat.delete status", func(ctx context.Context) error {
		_, _, err := c.a.api.DeleteMessageContext(ctx, c.channel, ts)
		return err
	})
	if err != nil {
		c.a.log.Warn("slack status not cleared", "err", err)
	}
	return err
}

var (
	_ chat.StatusConversation    = (*conversation)(nil)
	_ chat.ResolvingConversation = (*conversation)(nil)
)
