package state

import (
	"cmp"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// ErrInvalid is returned by Store methods given a record they cannot keep: a
// grant with a decision other than session or always, an empty user or key.
var ErrInvalid = errors.New("state: invalid record")

// CheckGrant validates g for PutGrant and returns it normalised: an "always"
// grant applies in every session, so its Session is cleared. Backends call it
// so that every backend rejects the same grants.
func CheckGrant(g Grant) (Grant, error) {
	switch {
	case g.User == "":
		return g, fmt.Errorf("grant without user: %w", ErrInvalid)
	case !g.Kind.Valid():
		return g, fmt.Errorf("grant of kind %q: %w", g.Kind, ErrInvalid)
	case g.Target == "":
		return g, fmt.Errorf("grant without target: %w", ErrInvalid)
	case g.Function == vocab.ReadsFunction && (g.Kind != vocab.KindExec || g.Requester != "" || g.Unplanned || g.Decision != vocab.AllowAlways):
		return g, fmt.Errorf("a grant for every read of %s is an always exec grant for planned steps only: %w", g.Target, ErrInvalid)
	}
	switch g.Decision {
	case vocab.AllowAlways:
		g.Session = ""
	case vocab.AllowSession:
		if g.Session == "" {
			return g, fmt.Errorf("session grant without session: %w", ErrInvalid)
		}
	default:
		return g, fmt.Errorf("grant with decision %q (only session and always are stored): %w", g.Decision, ErrInvalid)
	}
	return g, nil
}

// SortGrants orders grants as ListGrants returns them: by kind, requester,
// target, then session ("always" grants, with no session, first).
func SortGrants(gs []Grant) {
	slices.SortFunc(gs, func(a, b Grant) int {
		return cmp.Or(
			cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Requester, b.Requester),
			cmp.Compare(a.Target, b.Target),
			cmp.Compare(a.Function, b.Function),
			cmp.Compare(fmt.Sprint(a.Unplanned), fmt.Sprint(b.Unplanned)),
			cmp.Compare(a.Session, b.Session),
		)
	})
}

// RevokeMatches reports whether RevokeGrants(user, app) deletes g (user aside).
func RevokeMatches(g Grant, app ids.AppID) bool {
	return app == "" || g.Target == app || g.Requester == app
}

// NewSessionID returns a fresh random session id for TouchSession.
func NewSessionID() ids.SessionID { return ids.SessionID("s-" + rand.Text()) }

// CheckReplan validates r and ttl for PutReplan, so that every backend
// rejects the same records.
func CheckReplan(r Replan, ttl time.Duration) error {
	switch {
	case r.User == "":
		return fmt.Errorf("replan without user: %w", ErrInvalid)
	case r.Conversation == "":
		return fmt.Errorf("replan without conversation: %w", ErrInvalid)
	case ttl <= 0:
		return fmt.Errorf("replan with expiry %s (it must expire): %w", ttl, ErrInvalid)
	}
	return nil
}
