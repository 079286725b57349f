// Package vocab holds the closed sets of words that every layer of SecGPT
// shares: what a permission is for (Kind), the answers a prompt offers
// (Decision), the permission prompt itself as the store keeps it (Prompt),
// and the types of audit and trace events. It imports only core/ids, so the
// store, the gate, the hub, the adapters and the evaluation harness can all
// name these without importing one another (the store does not import the
// adapters' seam, core/chat). Any package may import it.
//
// How a prompt reads (its title, its text, a plan step's line) is not
// here: that belongs to the adapters' seam, core/chat, which also
// re-exports these names so that adapters need only chat.
package vocab

import "strings"

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
	// KindElicit is a question an app's MCP server asks the user (MCP
	// elicitation). It is never a grant's kind (Valid is false for it) and
	// its answer is one of the prompt's Options.
	KindElicit Kind = "elicit"
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

// The answers of an elicitation prompt besides its field options.
const (
	Accept  Decision = "accept"
	Decline Decision = "decline"
	Cancel  Decision = "cancel"
	// Skip leaves an optional typed field empty.
	Skip Decision = "skip"
)

// Decisions lists the choices in the order adapters show them.
var Decisions = [...]Decision{AllowOnce, AllowSession, AllowAlways, Deny}

// PlanDecisions lists a plan prompt's choices in the order adapters show them.
var PlanDecisions = [...]Decision{AllowOnce, AllowSession, AllowAlways, Deny, Review}

// MaxTyped bounds a typed answer to a question, in bytes.
const MaxTyped = 500

// optionPrefix marks a Decision that is a value the user picked for an
// elicitation field ("=small").
const optionPrefix = "="

// Option is the choice of value v for an elicitation field.
func Option(v string) Decision { return Decision(optionPrefix + v) }

// OptionValue returns the value of an Option decision.
func (d Decision) OptionValue() (string, bool) {
	return strings.CutPrefix(string(d), optionPrefix)
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

// Known reports whether d may answer some prompt: one of the permission
// decisions, an elicitation answer, or a field option. Whether it answers
// a given prompt is decided against that prompt's Choices.
func (d Decision) Known() bool {
	if d.Valid() || d == Accept || d == Decline || d == Cancel || d == Skip {
		return true
	}
	if _, ok := d.ReadsApp(); ok {
		return true
	}
	v, ok := d.OptionValue()
	return ok && v != "" && len(v) <= MaxTyped
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
