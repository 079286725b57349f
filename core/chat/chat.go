// Package chat is the seam between platform adapters (adapters/*) and the hub.
// It holds the platform-neutral message, prompt and answer types and the two
// small interfaces each side implements. It imports only core/ids, so an
// adapter never needs the hub, an app or an LLM.
package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
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

// Kind is what a permission is for.
type Kind string

// The permission kinds of the original SecGPT.
const (
	// KindExec: run an app for this user.
	KindExec Kind = "exec"
	// KindData: share remembered user data with an app.
	KindData Kind = "data"
	// KindCollab: one app's output goes to another app, or a spoke calls another app.
	KindCollab Kind = "collab"
	// KindPlan: the whole plan for a message, shown in one prompt; its
	// answer decides every exec, data and collab request inside it. It is
	// never a grant's kind (Valid is false for it).
	KindPlan Kind = "plan"
)

// Valid reports whether k is one of the three kinds.
func (k Kind) Valid() bool { return k == KindExec || k == KindData || k == KindCollab }

// Decision is the user's answer to a prompt.
type Decision string

// The four answers a prompt offers.
const (
	AllowOnce    Decision = "once"
	AllowSession Decision = "session"
	AllowAlways  Decision = "always"
	Deny         Decision = "deny"
)

// Review is the fifth choice of a plan prompt: decide the plan's parts
// one by one, in the per-step prompts.
const Review Decision = "review"

// Decisions lists the choices in the order adapters show them.
var Decisions = [...]Decision{AllowOnce, AllowSession, AllowAlways, Deny}

// PlanDecisions lists a plan prompt's choices in the order adapters show them.
var PlanDecisions = [...]Decision{AllowOnce, AllowSession, AllowAlways, Deny, Review}

// Choices returns the decisions p offers, in display order.
func (p Prompt) Choices() []Decision {
	if p.Kind == KindElicit {
		return p.Options
	}
	if p.Kind == KindPlan {
		if p.ReadsApp != "" {
			// Last, so that the numbers a terminal user types for the
			// other choices mean what they mean on every prompt.
			return append(PlanDecisions[:len(PlanDecisions):len(PlanDecisions)], AllowReads(p.ReadsApp))
		}
		return PlanDecisions[:]
	}
	return Decisions[:]
}

// Allows reports whether d lets the request through.
func (d Decision) Allows() bool {
	_, reads := d.ReadsApp()
	return d == AllowOnce || d == AllowSession || d == AllowAlways || reads
}

// Valid reports whether d is one of the five decisions (Review is valid
// only for a plan prompt; the gate checks that).
func (d Decision) Valid() bool {
	for _, x := range PlanDecisions {
		if d == x {
			return true
		}
	}
	return false
}

// Label is the button text for d.
func (d Decision) Label() string {
	switch d {
	case AllowOnce:
		return "Allow once"
	case AllowSession:
		return "Allow for this session"
	case AllowAlways:
		return "Always allow"
	case Deny:
		return "Deny"
	case Review:
		return "Review steps one by one"
	case Accept:
		return "Accept"
	case Decline:
		return "Decline"
	case Cancel:
		return "Cancel"
	case Skip:
		return "Skip"
	}
	if v, ok := d.OptionValue(); ok {
		return v
	}
	if app, ok := d.ReadsApp(); ok {
		return "Always allow " + string(app) + " for reads"
	}
	return string(d)
}

// ParseDecision reads a typed answer ("1", "allow once", "once", "deny", …).
func ParseDecision(s string) (Decision, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "1", "once", "allow once", "allow", "yes", "y":
		return AllowOnce, true
	case "2", "session", "allow for this session", "allow session":
		return AllowSession, true
	case "3", "always", "always allow", "allow always":
		return AllowAlways, true
	case "4", "deny", "no", "n", "never":
		return Deny, true
	case "5", "review", "review steps", "review steps one by one", "one by one":
		return Review, true
	}
	return "", false
}

// Prompt is one permission request the hub asks an adapter to show to User.
type Prompt struct {
	ID ids.PromptID
	// Nonce is unguessable; an answer must carry it back (button value, …).
	Nonce string
	// User is the only person whose answer counts.
	User         ids.UserID
	Conversation ids.ConversationID
	// Session is the session the prompt was asked in; "Allow for this
	// session" grants are stored under it.
	Session ids.SessionID
	Kind    Kind
	// Requester is the app asking (for collab and data), or "" for the hub itself.
	Requester ids.AppID
	// Target is the app that would run or receive the data.
	Target ids.AppID
	// Function is the target's functionality, if known.
	Function string
	// Data is the exact data that would be shared, as shown to the user.
	Data string
	// Unplanned is set when the request was not part of the plan the hub made
	// for the user's message; adapters must show a warning.
	Unplanned bool
	// Reason says in a few words why the hub asks.
	Reason    string
	ExpiresAt time.Time
	// Replica names the assistant replica whose query waits for the answer
	// ("" with a single replica).
	Replica string
	// Effect is the target function's effect (read, write, send, destroy),
	// when known.
	Effect string
	// Rule, when set, says which operator rule applied ("ask: send:*").
	Rule string
	// Confirm is set for a send or destroy step shown again with its
	// concrete arguments just before it runs.
	Confirm bool

	// The plan of a KindPlan prompt: every step, every flow between steps
	// and every remembered fact it would share. Parts already granted are
	// marked; the answer decides the rest (Components).
	Steps []PlanStep
	Flows []PlanFlow
	Facts []PlanFact
	// Components are the exec, data and collab requests the answer decides
	// (session and always answers store a grant for each).
	Components []Component
	// ReadsApp, on a plan prompt, is the one app whose read-only functions
	// the plan's open steps use: the prompt then offers AllowReads(ReadsApp).
	ReadsApp ids.AppID

	// Options are the choices of a KindElicit prompt, in display order.
	Options []Decision
	// FreeText: a KindElicit question answered by typing (the answer is
	// Option(text)), or with one of Options (Cancel). Only shown where
	// the conversation TakesTypedAnswers.
	FreeText bool
}

// PlanStep is one step of a plan prompt.
type PlanStep struct {
	// N is the 1-based step number.
	N        int
	App      ids.AppID
	Function string
	// Effect is the function's effect: read, write, send or destroy.
	Effect string
	// Claims is what the app itself says about the function (an MCP
	// server's tool annotations): shown as unverified, never used to lower
	// Effect.
	Claims string
	// Args are the arguments as readable fields, in order; a value filled
	// at run time reads "(step 2's result)".
	Args []Field
	// Instruction is the planner's instruction, for steps without a function.
	Instruction string
	// Granted: a stored grant or an allow rule already covers running it.
	Granted bool
	// Confirm: it sends or destroys with arguments from another app's
	// result, so it is shown again with the concrete values before it runs.
	Confirm bool
}

// Field is one argument of a step.
type Field struct {
	Name  string
	Value string
}

// PlanFlow is one flow of an app's result into a later step.
type PlanFlow struct {
	From, To       int // 1-based step numbers
	FromApp, ToApp ids.AppID
	// Into names the argument the result fills ("" for the instruction).
	Into    string
	Granted bool
}

// PlanFact is one remembered fact a step would receive.
type PlanFact struct {
	Step    int
	App     ids.AppID
	Key     string
	Value   string
	Granted bool
}

// Component is one exec, data or collab request inside a plan.
type Component struct {
	Kind      Kind
	Requester ids.AppID
	Target    ids.AppID
	Function  string
}

// Title is a one-line statement of who asks for what.
func (p Prompt) Title() string {
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

// Warning is the text adapters show for an unplanned request, or "".
func (p Prompt) Warning() string {
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

// StepLine is one plan step on one line, its call with values shortened
// (Call) and its effect: "1. search_gmail(query=from:ada) — reads only".
// A step without a function shows the app alone; its instruction follows
// on a line of its own.
func (s PlanStep) StepLine() string {
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

// FlowLine is one flow on one line: "step 1's result (search_gmail) → step 2's message_id (delete_gmail_message)".
func (f PlanFlow) FlowLine() string {
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

// FactLine is one remembered fact on one line.
func (f PlanFact) FactLine() string {
	line := fmt.Sprintf("%s: %s → step %d (%s)", f.Key, f.Value, f.Step, f.App)
	if f.Granted {
		line += " [already allowed]"
	}
	return line
}

// planText renders a plan prompt's body.
func (p Prompt) planText(b *strings.Builder) {
	b.WriteString("\nSteps:")
	for _, s := range p.Steps {
		b.WriteString("\n  " + s.StepLine())
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
			b.WriteString("\n  " + f.FlowLine())
		}
	}
	if len(p.Facts) > 0 {
		b.WriteString("\nRemembered facts it would share (you did not mention them in this message):")
		for _, f := range p.Facts {
			b.WriteString("\n  " + f.FactLine())
		}
	}
}

// Text renders the prompt as plain text (terminal, fallbacks, logs).
func (p Prompt) Text() string {
	var b strings.Builder
	b.WriteString(p.Title())
	if p.Kind == KindPlan {
		if p.Rule != "" {
			b.WriteString("\nRule: " + p.Rule)
		}
		p.planText(&b)
		return b.String()
	}
	if n := EffectText(p.Effect, ""); n != "" {
		b.WriteString("\nEffect: " + n)
	}
	if p.Rule != "" {
		b.WriteString("\nRule: " + p.Rule)
	}
	if w := p.Warning(); w != "" {
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
