package chat

import (
	"strconv"
	"strings"
)

// KindElicit is a question an app's MCP server asks the user (MCP
// elicitation). It is never a grant's kind (Valid is false for it) and its
// answer is one of the prompt's Options.
const KindElicit Kind = "elicit"

// The answers of an elicitation prompt besides its field options.
const (
	Accept  Decision = "accept"
	Decline Decision = "decline"
	Cancel  Decision = "cancel"
	// Skip leaves an optional typed field empty.
	Skip Decision = "skip"
)

// MaxTyped bounds a typed answer to a question, in bytes.
const MaxTyped = 500

// TypedConversation is a Conversation whose user can answer a question by
// typing (the terminal, Matrix). The hub asks for an app's free-text
// fields only there; where a click is the only answer (Slack buttons) it
// does not.
type TypedConversation interface {
	Conversation
	TakesTypedAnswers() bool
}

// TakesTypedAnswers reports whether c's user can answer by typing.
func TakesTypedAnswers(c Conversation) bool {
	tc, ok := c.(TypedConversation)
	return ok && tc.TakesTypedAnswers()
}

// optionPrefix marks a Decision that is a value the user picked for an
// elicitation field ("=small").
const optionPrefix = "="

// Option is the choice of value v for an elicitation field.
func Option(v string) Decision { return Decision(optionPrefix + v) }

// OptionValue returns the value of an Option decision.
func (d Decision) OptionValue() (string, bool) {
	return strings.CutPrefix(string(d), optionPrefix)
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
