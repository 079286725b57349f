package hub

import (
	"errors"

	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/public"
	"github.com/secgpt-go/secgpt/core/state"
)

// What users see of errors. Every error whose words may leave the hub is
// a public.Error: its message is the hub's own words (the user's reply, a
// kill reason, the message an app that called gets), its internal error
// goes to the log and the audit log, and an app's own error message rides
// apart from both (public.AppMessage). What is not a public.Error is shown
// as a generic message (publicMessage).
//
// A spoke's words are its app's output and may reach another app or a
// model context only through a collab decision (invariant 7), so an error
// that ends a spoke (spokeErr, spokeErrorf, an app's spoke_error frame)
// never puts a byte the spoke sent into its message.

// publicf is an error whose message (format) the user may see, wrapping
// err for the log.
func publicf(err error, format string, a ...any) error {
	return public.Errorf(err, format, a...)
}

// publicMessage is what the user may see of err.
func publicMessage(err error) string {
	if m, ok := public.Message(err); ok {
		return m
	}
	if errors.Is(err, state.ErrUnaudited) {
		return "the audit log could not be written, so it was not done"
	}
	return "something went wrong (see the assistant's log)"
}

// spokeErr ends a spoke over an error met while talking to it: the
// message is what, and the error, which may quote the frame, is internal.
// Errors of the ISC codec are named by their sentinel in the message,
// since their text quotes the frame.
func spokeErr(what string, err error) error {
	reason := what
	for _, s := range []error{isc.ErrFrameTooLarge, isc.ErrMalformed, isc.ErrWrongDirection} {
		if errors.Is(err, s) {
			reason = what + ": " + s.Error()
			break
		}
	}
	return publicf(err, "%s", reason)
}

// spokeErrorf ends a spoke with a message formatted by the hub; callers
// pass only hub-side values (bounds, kinds the hub knows, function names
// from the catalog), never bytes of the frame.
func spokeErrorf(format string, a ...any) error {
	return publicf(nil, format, a...)
}

// publicReason says why a spoke failed in words that quote nothing the
// spoke sent. killReason is the sandbox's (a limit, a timeout) or the one
// the hub gave it, which is a spoke error's message.
func publicReason(err error, killReason string) string {
	// The sandbox's reason (a timeout, a limit) explains more than the
	// broken connection the hub saw because of it.
	if killReason != "" {
		return truncate(killReason, 200)
	}
	if m, ok := public.Message(err); ok {
		return truncate(m, 200)
	}
	return "it stopped unexpectedly"
}

// appMessage returns the app's own error message carried by err, if any.
func appMessage(err error) string { return public.AppMessage(err) }

// denial is a stage's refusal: the step did not run because of a
// decision (err, if set, is why the decision could not be made). It is
// not shown as an error: the reply says the step was not run.
type denial struct{ err error }

func (d *denial) Error() string {
	if d.err == nil {
		return "denied"
	}
	return "denied: " + d.err.Error()
}

func (d *denial) Unwrap() error { return d.err }
