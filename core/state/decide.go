package state

import (
	"context"
	"fmt"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// Decided is the stored outcome of a pending prompt: the one answer that
// counts, whichever replica took it and whichever replica waits for it.
type Decided struct {
	Prompt   ids.PromptID   `json:"prompt"`
	Decision vocab.Decision `json:"decision"`
	// By is the user who answered ("" when the prompt expired).
	By ids.UserID `json:"by,omitempty"`
	// Replica names the replica that stored the outcome.
	Replica string    `json:"replica,omitempty"`
	At      time.Time `json:"at"`
	// Expired: nobody answered in time; the asking replica stored its
	// default (deny, or cancel for a question).
	Expired bool `json:"expired,omitempty"`
}

// DecidedTTL is how long a stored outcome is kept after its prompt was
// decided: long enough for the replica that asked to read it after a
// Redis restart's back-off, short enough not to pile up.
const DecidedTTL = time.Hour

// Decisions makes a prompt's answer a fact of the store: taking the
// pending prompt, recording its outcome and storing the grants the
// outcome gives happen in one step, so no replica can see one without
// the others.
type Decisions interface {
	// DecidePending deletes pending prompt d.Prompt, records d as its
	// outcome and stores grants (all of the prompt's user), atomically.
	// Exactly one of several racing callers wins (took true) and gets the
	// prompt; a loser changes nothing.
	DecidePending(ctx context.Context, d Decided, grants []Grant) (p vocab.Prompt, took bool, err error)
	// Decided returns the recorded outcome of prompt id, if any.
	Decided(ctx context.Context, id ids.PromptID) (Decided, bool, error)
}

// CheckDecided validates d and grants for DecidePending and returns them
// normalised: a zero d.At is stamped with now(), grants are checked as by
// CheckGrant and take d.At when they have no time. Backends call it so
// that every backend rejects the same outcomes.
func CheckDecided(d Decided, grants []Grant, now func() time.Time) (Decided, []Grant, error) {
	if d.Prompt == "" || !d.Decision.Known() {
		return d, nil, fmt.Errorf("outcome %q of prompt %q: %w", d.Decision, d.Prompt, ErrInvalid)
	}
	if d.At.IsZero() {
		d.At = now()
	}
	out := make([]Grant, 0, len(grants))
	for _, g := range grants {
		g, err := CheckGrant(g)
		if err != nil {
			return d, nil, err
		}
		if len(out) > 0 && g.User != out[0].User {
			return d, nil, fmt.Errorf("grants of %s and %s in one outcome: %w", out[0].User, g.User, ErrInvalid)
		}
		if g.At.IsZero() {
			g.At = d.At
		}
		out = append(out, g)
	}
	return d, out, nil
}
