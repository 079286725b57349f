// Package chat is the seam between platform adapters (adapters/*) and the hub.
// It holds the platform-neutral message and answer types, the two small
// interfaces each side implements, and how a permission prompt reads
// (PromptTitle, PromptText, StepLine, …). The prompt itself, its kinds and
// its decisions are core/vocab's, re-exported here under their old names.
// It imports only core/ids and core/vocab, so an adapter never needs the
// hub, an app or an LLM.
package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// Message is one user message an adapter hands to the assistant.
type Message struct {
	// User is the platform-qualified sender ("slack:T1/U2").
	User ids.UserID
	// Conversation is where the answer goes (a DM, a room thread).
	Conversation ids.ConversationID
	// Text is the message text with any bot mention or command prefix removed.
	Text string
	// EventID is the platform's id for the event, used to drop duplicates.
	EventID string
	// Threads: a command acts on the conversations under Conversation
	// too (its ID followed by "/"): a Slack slash command names a
	// channel, whose threads are conversations of their own.
	Threads bool
}

// The permission vocabulary lives in core/vocab, which the store shares;
// these names keep it reachable from chat, so an adapter needs only chat.
type (
	Kind      = vocab.Kind
	Decision  = vocab.Decision
	Prompt    = vocab.Prompt
	PlanStep  = vocab.PlanStep
	Field     = vocab.Field
	PlanFlow  = vocab.PlanFlow
	PlanFact  = vocab.PlanFact
	Component = vocab.Component
)

// The permission kinds (vocab.Kind).
const (
	KindExec   = vocab.KindExec
	KindData   = vocab.KindData
	KindCollab = vocab.KindCollab
	KindPlan   = vocab.KindPlan
	KindElicit = vocab.KindElicit
)

// The decisions (vocab.Decision).
const (
	AllowOnce    = vocab.AllowOnce
	AllowSession = vocab.AllowSession
	AllowAlways  = vocab.AllowAlways
	Deny         = vocab.Deny
	Review       = vocab.Review
	Accept       = vocab.Accept
	Decline      = vocab.Decline
	Cancel       = vocab.Cancel
	Skip         = vocab.Skip
)

// Decisions lists the choices in the order adapters show them.
var Decisions = vocab.Decisions

// PlanDecisions lists a plan prompt's choices in the order adapters show them.
var PlanDecisions = vocab.PlanDecisions

// ParseDecision reads a typed answer ("1", "allow once", "once", "deny", …).
func ParseDecision(s string) (Decision, bool) { return vocab.ParseDecision(s) }

// PromptTitle is a one-line statement of who asks for what.
func PromptTitle(p Prompt) string {
	switch p.Kind {
	case KindPlan:
		if len(p.Steps) == 1 {
			return "Run this 1-step plan?"
		}
		return fmt.Sprintf("Run this %d-step plan?", len(p.Steps))
	case KindExec:
		if p.Confirm {
			return fmt.Sprintf("Confirm: app %s is about to %s with these arguments", AppFunction(p.Target, p.Function), effectVerb(p.Effect))
		}
		return fmt.Sprintf("Run app %s?", AppFunction(p.Target, p.Function))
	case KindData:
		return fmt.Sprintf("Share remembered data with app %s?", p.Target)
	case KindCollab:
		return fmt.Sprintf("App %s wants to use app %s", p.Requester, AppFunction(p.Target, p.Function))
	case KindElicit:
		return fmt.Sprintf("App %s asks you a question", AppFunction(p.Target, p.Function))
	}
	return fmt.Sprintf("Permission %s for %s", p.Kind, p.Target)
}

// AppFunction names an app's function as "app · function", or "app" alone
// when the function is unknown or named like the app.
func AppFunction(app ids.AppID, fn string) string {
	if fn == "" || fn == string(app) {
		return string(app)
	}
	return string(app) + " · " + fn
}

// PromptWarning is the text adapters show for an unplanned request, or "".
func PromptWarning(p Prompt) string {
	if !p.Unplanned {
		return ""
	}
	return "Warning: this request was not part of the plan for your message."
}

// effectVerb says what an effect does, for a confirmation title.
func effectVerb(e string) string {
	switch e {
	case "send":
		return "send data to a third party"
	case "destroy":
		return "delete or irreversibly change data"
	case "write":
		return "change your data"
	}
	return "run"
}

// EffectNote describes an effect for a prompt line ("sends data to a third party").
func EffectNote(e string) string {
	switch e {
	case "read":
		return "reads only"
	case "write":
		return "changes your own data"
	case "send":
		return "sends data to a third party"
	case "destroy":
		return "deletes or irreversibly changes data"
	}
	return ""
}

// StepLine is plan step s on one line, its call with values shortened
// (Call) and its effect: "1. search_gmail(query=from:ada) — reads only".
// A step without a function shows the app alone; its instruction follows
// on a line of its own.
func StepLine(s PlanStep) string {
	line := fmt.Sprintf("%d. %s", s.N, s.App)
	if s.Function != "" {
		line = fmt.Sprintf("%d. %s", s.N, Call(string(s.App), s.Function, s.Args))
	}
	if n := EffectText(s.Effect, s.Claims); n != "" {
		line += " — " + n
	}
	if s.Granted {
		line += " [already allowed]"
	}
	if s.Confirm {
		line += " [asks again with the final values]"
	}
	return line
}

// FlowLine is flow f on one line: "step 1's result (search_gmail) → step 2's message_id (delete_gmail_message)".
func FlowLine(f PlanFlow) string {
	into := "input"
	if f.Into != "" {
		into = f.Into
	}
	line := fmt.Sprintf("step %d's result (%s) → step %d's %s (%s)", f.From, f.FromApp, f.To, into, f.ToApp)
	if f.Granted {
		line += " [already allowed]"
	}
	return line
}

// FactLine is remembered fact f on one line.
func FactLine(f PlanFact) string {
	line := fmt.Sprintf("%s: %s → step %d (%s)", f.Key, f.Value, f.Step, f.App)
	if f.Granted {
		line += " [already allowed]"
	}
	return line
}

// planText renders a plan prompt's body.
func planText(b *strings.Builder, p Prompt) {
	b.WriteString("\nSteps:")
	for _, s := range p.Steps {
		b.WriteString("\n  " + StepLine(s))
		if s.Instruction != "" && len(s.Args) == 0 {
			b.WriteString("\n     instruction: " + s.Instruction)
		}
		if s.Function == "" {
			for _, a := range s.Args {
				b.WriteString("\n     " + a.Name + ": " + a.Value)
			}
		}
	}
	if len(p.Flows) > 0 {
		b.WriteString("\nData passed between apps:")
		for _, f := range p.Flows {
			b.WriteString("\n  " + FlowLine(f))
		}
	}
	if len(p.Facts) > 0 {
		b.WriteString("\nRemembered facts it would share (you did not mention them in this message):")
		for _, f := range p.Facts {
			b.WriteString("\n  " + FactLine(f))
		}
	}
}

// PromptText renders p as plain text (terminal, fallbacks, logs).
func PromptText(p Prompt) string {
	var b strings.Builder
	b.WriteString(PromptTitle(p))
	if p.Kind == KindPlan {
		if p.Rule != "" {
			b.WriteString("\nRule: " + p.Rule)
		}
		planText(&b, p)
		return b.String()
	}
	if n := EffectText(p.Effect, ""); n != "" {
		b.WriteString("\nEffect: " + n)
	}
	if p.Rule != "" {
		b.WriteString("\nRule: " + p.Rule)
	}
	if w := PromptWarning(p); w != "" {
		b.WriteString("\n⚠ " + w)
	}
	if p.Reason != "" {
		b.WriteString("\nWhy: " + p.Reason)
	}
	if p.Kind == KindElicit {
		if p.Data != "" {
			b.WriteString("\n" + p.Data)
		}
		return b.String()
	}
	if p.Data != "" {
		b.WriteString("\nWhat it would receive:\n" + DataText(p.Data))
	}
	return b.String()
}

// Answer is a click or typed reply an adapter delivers to the assistant.
type Answer struct {
	Prompt   ids.PromptID
	Nonce    string
	User     ids.UserID
	Decision Decision
}

// Errors returned by Assistant.Answer. Adapters show ErrNotYours as an
// ephemeral refusal; the others mean the prompt is no longer waiting.
var (
	// ErrNotYours: the answer came from someone other than the asked user.
	ErrNotYours = errors.New("this permission request is not yours to answer")
	// ErrUnknownPrompt: no such prompt, a wrong nonce, or already answered or expired.
	ErrUnknownPrompt = errors.New("permission request not found or no longer waiting")
	// ErrAskAgain: the answer was recorded (a session or always grant is
	// kept), but the assistant replica that was waiting for it is gone, so
	// the request must be sent again. Adapters tell the user so.
	ErrAskAgain = errors.New("the assistant restarted while waiting for this answer; your choice was saved, please send your request again")
)

// Conversation is how the assistant talks back into one conversation. An
// adapter implements it. Every method may block on network I/O and must honour
// ctx; the assistant calls them from the goroutine handling the message.
type Conversation interface {
	// Reply posts an answer (markdown) to the conversation.
	Reply(ctx context.Context, text string) error
	// Prompt shows a permission prompt. It returns once the prompt is shown;
	// the answer comes back later through Assistant.Answer.
	Prompt(ctx context.Context, p Prompt) error
}

// StatusConversation is a Conversation that can show progress ("working…").
type StatusConversation interface {
	Conversation
	// Status shows or updates a transient status; "" clears it.
	Status(ctx context.Context, text string) error
}

// ResolvingConversation is a Conversation that can update a prompt it showed
// once it is decided or expired (edit the message, remove the buttons).
type ResolvingConversation interface {
	Conversation
	// Resolved is called once per shown prompt. by is who answered ("" when it
	// expired); expired is true when no answer came in time.
	Resolved(ctx context.Context, p Prompt, d Decision, by ids.UserID, expired bool) error
}

// Assistant is what an adapter drives. The hub implements it.
type Assistant interface {
	// Handle answers one message. It blocks until the answer is posted
	// (which may include waiting for permission answers); adapters call it in
	// a goroutine per message.
	Handle(ctx context.Context, m Message, c Conversation)
	// Answer delivers a prompt answer. It returns ErrNotYours or
	// ErrUnknownPrompt when the answer changes nothing.
	Answer(ctx context.Context, a Answer) error
}
