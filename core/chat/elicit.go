package chat

import "github.com/secgpt-go/secgpt/core/vocab"

// MaxTyped bounds a typed answer to a question, in bytes.
const MaxTyped = vocab.MaxTyped

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

// Option is the choice of value v for an elicitation field.
func Option(v string) Decision { return vocab.Option(v) }
