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
)

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
	if d.Valid() || d == Accept || d == Decline || d == Cancel {
		return true
	}
	v, ok := d.OptionValue()
	return ok && v != "" && len(d) <= 64
}

// ParseChoice reads a typed answer to p: a choice's number (1-based), its
// label, or one of the permission words when p offers that decision.
func (p Prompt) ParseChoice(s string) (Decision, bool) {
	cs := p.Choices()
	t := strings.TrimSpace(s)
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
