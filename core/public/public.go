// Package public is the one error type whose message may be shown to a
// user: the hub's own words about what went wrong, wrapping the internal
// error that goes to the log (Tailscale's vizerror habit). Internal errors
// are never formatted into chat text; what is not a public error is shown
// as a generic message.
//
// It imports nothing of the project and may be imported by any package.
package public

import (
	"errors"
	"fmt"
)

// Error is an error with a message for the user. The message is written
// by the code that makes the error and must not quote third-party text
// (an app's output, a model's answer) unless the user may see that text
// where it is shown.
type Error struct {
	msg string
	err error
}

// Errorf returns an Error whose user message is the formatted text and
// whose internal error is err (may be nil).
func Errorf(err error, format string, a ...any) error {
	return &Error{msg: fmt.Sprintf(format, a...), err: err}
}

// Error is the user message and the internal error, for the log.
func (e *Error) Error() string {
	if e.err == nil {
		return e.msg
	}
	return e.msg + ": " + e.err.Error()
}

// Unwrap returns the internal error.
func (e *Error) Unwrap() error { return e.err }

// Public is the part the user may see.
func (e *Error) Public() string { return e.msg }

// Message returns the user message of the first Error in err's chain, and
// whether there is one.
func Message(err error) (string, bool) {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.msg, true
	}
	return "", false
}
