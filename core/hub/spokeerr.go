package hub

import (
	"errors"
	"fmt"

	"github.com/secgpt-go/secgpt/core/isc"
)

// errSpoke ends a spoke: it broke the protocol or its bounds, or it answered
// with an error. Its parts are kept apart by who wrote them, because what a
// spoke sends is its app's output and may reach another app or a model
// context only through a collab decision (invariant 7):
//   - reason is written by the hub and never quotes a byte the spoke sent;
//     it is the only part that may leave the hub's log (kill reasons, the
//     message a calling app gets, the user's reply);
//   - detail may quote the spoke (a decoder message, the value that failed
//     the response schema); it goes to the hub's log and the audit log;
//   - appMessage is the app's own error message (a spoke_error frame). Like
//     the app's result it may be shown to the user it ran for when it ran
//     as a plan step, and never to an app that called it.
type errSpoke struct {
	reason     string
	detail     string
	appMessage string
}

func (e *errSpoke) Error() string {
	if e.detail == "" {
		return e.reason
	}
	return e.reason + ": " + e.detail
}

// spokeErr wraps an error met while talking to a spoke. Errors of the ISC
// codec are named by their sentinel, since their text quotes the frame.
func spokeErr(what string, err error) error {
	reason := what
	for _, s := range []error{isc.ErrFrameTooLarge, isc.ErrMalformed, isc.ErrWrongDirection} {
		if errors.Is(err, s) {
			reason = what + ": " + s.Error()
			break
		}
	}
	return &errSpoke{reason: reason, detail: err.Error()}
}

// spokeErrorf is an errSpoke whose reason is formatted by the hub; callers
// pass only hub-side values (bounds, kinds the hub knows, function names
// from the catalog), never bytes of the frame.
func spokeErrorf(format string, a ...any) error {
	return &errSpoke{reason: fmt.Sprintf(format, a...)}
}

// publicReason says why a spoke failed in words that quote nothing the
// spoke sent. killReason is the sandbox's (a limit, a timeout) or the one
// the hub gave it, which is an errSpoke reason.
func publicReason(err error, killReason string) string {
	// The sandbox's reason (a timeout, a limit) explains more than the
	// broken connection the hub saw because of it.
	if killReason != "" {
		return truncate(killReason, 200)
	}
	var es *errSpoke
	if errors.As(err, &es) {
		return truncate(es.reason, 200)
	}
	return "it stopped unexpectedly"
}

// appMessage returns the app's own error message carried by err, if any.
func appMessage(err error) string {
	var es *errSpoke
	if errors.As(err, &es) {
		return es.appMessage
	}
	return ""
}
