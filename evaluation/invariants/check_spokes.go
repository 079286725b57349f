package invariants

import (
	"fmt"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
)

// InvSpoke: a spoke process serves one user and one invocation, unless the
// hub keeps it warm for more invocations of the same user and app (an
// MCP server's). Spokes started ahead of need (the sandbox's pool) are
// claimed once; none is handed out again while it runs.
const InvSpoke = "I14 one-invocation spokes"

// checkSpokes checks, from the hub's spoke trace and the init frames read
// off the wire, that no spoke process was handed to a second invocation:
// a start of a process that has not ended, a warm reuse for another user
// or app, or a second init to a spoke that was not reused warm.
func checkSpokes(evs []*event) []Violation {
	type spoke struct {
		user   ids.UserID
		app    ids.AppID
		inits  int
		reuses int
	}
	var vs []Violation
	add := func(cause, format string, a ...any) {
		vs = append(vs, Violation{Invariant: InvSpoke, Cause: cause, Detail: cause + ": " + fmt.Sprintf(format, a...)})
	}
	live := map[int]*spoke{}
	for _, e := range evs {
		switch e.kind {
		case evSpokeStart:
			if s := live[e.pid]; s != nil {
				add("handed out twice", "spoke process %d started for %s (%s, #%d) while it still served %s (%s)", e.pid, e.user, e.app, e.seq, s.user, s.app)
			}
			live[e.pid] = &spoke{user: e.user, app: e.app}
		case evSpokeEnd:
			delete(live, e.pid)
		case evSpokeReuse:
			s := live[e.pid]
			switch {
			case s == nil:
				add("reused unknown", "spoke process %d reused for %s (%s, #%d) with no start traced", e.pid, e.user, e.app, e.seq)
			case s.user != e.user || s.app != e.app:
				add("reused across", "warm spoke process %d of %s (%s) reused for %s (%s, #%d)", e.pid, s.user, s.app, e.user, e.app, e.seq)
			default:
				s.reuses++
			}
		case evFrameIn:
			s := live[e.pid]
			if e.frame != isc.KindInit || s == nil {
				// Spokes the hub did not start (an MCP server's discovery)
				// have no trace to hold them to.
				continue
			}
			s.inits++
			if s.inits > 1+s.reuses {
				add("second invocation", "spoke process %d of %s (%s) got init #%d (#%d) without being kept warm for it", e.pid, s.user, s.app, s.inits, e.seq)
			}
		}
	}
	return vs
}
