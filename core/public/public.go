// Package public is the one error type whose message may be shown to a
// user: the hub's own words about what went wrong, wrapping the internal
// error that goes to the log (Tailscale's vizerror habit), and, apart from
// both, an app's own error message for the user it ran for. Internal errors
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
// where it is shown. Its parts are kept apart by who wrote them and who
// may read them:
//   - the message (Message) is our own words: the user may see it, and so
//     may an app that asked for the work that failed;
//   - the internal error (Unwrap) may quote anything; it goes to the log
//     and the audit log only;
//   - the app message (AppMessage), if any, is an app's own error message:
//     like the app's answer, only the user it ran for may read it, never
//     another app.
type Error struct {
	msg string
	err error
	app string
}

// Errorf returns an Error whose user message is the formatted text and
// whose internal error is err (may be nil).
func Errorf(err error, format string, a ...any) error {
	return &Error{msg: fmt.Sprintf(format, a...), err: err}
}

// FromApp returns an Error whose user message is msg, whose internal error
// is err (may be nil), and which carries app, an app's own error message
// (see AppMessage).
func FromApp(err error, app, msg string) error {
	return &Error{msg: msg, err: err, app: app}
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

// AppMessage returns the app message of the first Error in err's chain
// ("" if there is none). It is the app's output: show it only to the user
// the app ran for, where they read its answers; never to another app.
func AppMessage(err error) string {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.app
	}
	return ""
}
