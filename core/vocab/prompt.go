package vocab

import (
	"strconv"
	"strings"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
)

// Prompt is one permission request the hub asks an adapter to show to User.
// The store keeps it while it waits for an answer; how it reads is
// core/chat's (PromptTitle, PromptText).
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

// Answers reports whether d answers p: one of its choices, or for a
// free-text question any typed text (an Option holding it).
func (p Prompt) Answers(d Decision) bool {
	for _, c := range p.Choices() {
		if c == d {
			return true
		}
	}
	if p.Kind == KindElicit && p.FreeText {
		_, ok := d.OptionValue()
		return ok && d.Known()
	}
	return false
}

// ParseChoice reads a typed answer to p: a choice's number (1-based), its
// label, or one of the permission words when p offers that decision.
func (p Prompt) ParseChoice(s string) (Decision, bool) {
	cs := p.Choices()
	t := strings.TrimSpace(s)
	if p.Kind == KindElicit && p.FreeText {
		// Whatever is typed is the answer, except the words of its
		// choices (cancel, skip).
		if t == "" || len(t) > MaxTyped {
			return "", false
		}
		for _, d := range cs {
			if strings.EqualFold(t, string(d)) || strings.EqualFold(t, d.Label()) || strings.EqualFold(t, "/"+string(d)) {
				return d, true
			}
		}
		return Option(t), true
	}
	if n, err := strconv.Atoi(t); err == nil {
		if n >= 1 && n <= len(cs) {
			return cs[n-1], true
		}
		return "", false
	}
	for _, d := range cs {
		if strings.EqualFold(t, d.Label()) || strings.EqualFold(t, string(d)) {
			return d, true
		}
	}
	if d, ok := ParseDecision(t); ok {
		for _, c := range cs {
			if c == d {
				return d, true
			}
		}
	}
	return "", false
}
