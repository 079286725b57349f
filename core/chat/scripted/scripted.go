// Package scripted is a chat.Conversation driven by a script instead of a
// person: it records replies and prompts and answers each prompt by a
// policy, as a click would. The evaluation's scripted user and the tests use it.
package scripted

import (
	"context"
	"strings"
	"sync"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// Policy decides a prompt for a scripted user.
type Policy func(chat.Prompt) chat.Decision

// AllowPlanned allows what was in the plan (once) and denies the rest: the
// scripted user of the case studies.
func AllowPlanned(p chat.Prompt) chat.Decision {
	if p.Unplanned {
		return chat.Deny
	}
	return chat.AllowOnce
}

// Always answers every prompt with d.
func Always(d chat.Decision) Policy { return func(chat.Prompt) chat.Decision { return d } }

// Conversation is a scripted chat.Conversation that records what it is
// shown and answers prompts through the assistant.
type Conversation struct {
	A      chat.Assistant
	User   ids.UserID
	Policy Policy // nil: leave prompts unanswered
	// Typed: the scripted user can answer a question by typing (as in the
	// terminal or Matrix); the policy's Option(text) is the typed text.
	Typed bool

	mu       sync.Mutex // guards the fields below
	replies  []string
	prompts  []chat.Prompt
	resolved map[ids.PromptID]chat.Decision
	wg       sync.WaitGroup
}

// Reply records an answer.
func (c *Conversation) Reply(_ context.Context, text string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replies = append(c.replies, text)
	return nil
}

// Prompt records a prompt and answers it by the policy, as a click would.
func (c *Conversation) Prompt(ctx context.Context, p chat.Prompt) error {
	c.mu.Lock()
	c.prompts = append(c.prompts, p)
	c.mu.Unlock()
	if c.Policy == nil {
		return nil
	}
	d := c.Policy(p)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		_ = c.A.Answer(context.WithoutCancel(ctx), chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: p.User, Decision: d})
	}()
	return nil
}

// TakesTypedAnswers reports c.Typed.
func (c *Conversation) TakesTypedAnswers() bool { return c.Typed }

// Resolved records the decision of a prompt.
func (c *Conversation) Resolved(_ context.Context, p chat.Prompt, d chat.Decision, _ ids.UserID, _ bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resolved == nil {
		c.resolved = map[ids.PromptID]chat.Decision{}
	}
	c.resolved[p.ID] = d
	return nil
}

// Send handles one message as c.User and returns the reply.
func (c *Conversation) Send(ctx context.Context, text string) string {
	c.mu.Lock()
	n := len(c.replies)
	c.mu.Unlock()
	c.A.Handle(ctx, chat.Message{User: c.User, Conversation: ids.ConversationID("conv:" + string(c.User)), Text: text}, c)
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.replies[n:], "\n")
}

// Prompts returns the prompts shown so far.
func (c *Conversation) Prompts() []chat.Prompt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]chat.Prompt(nil), c.prompts...)
}

// Decision returns how prompt id was resolved.
func (c *Conversation) Decision(id ids.PromptID) (chat.Decision, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.resolved[id]
	return d, ok
}

var _ chat.ResolvingConversation = (*Conversation)(nil)
