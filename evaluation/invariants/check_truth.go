package invariants

import (
	"context"
	"fmt"

	"github.com/secgpt-go/secgpt/core/state"
)

// checkStoredTruth: every prompt's outcome as the hub showed it
// (Resolved: the decision, who gave it, expired or not) is the outcome the
// store holds for it (state.Decisions), whichever replica asked and
// whichever took the answer.
func checkStoredTruth(ctx context.Context, evs []*event, st state.Decisions, add func(inv, format string, a ...any)) {
	for _, e := range evs {
		if e.kind != evResolved {
			continue
		}
		d, ok, err := st.Decided(ctx, e.prompt.ID)
		switch {
		case err != nil:
			add(InvTruth, "outcome unreadable: prompt %s: %v", e.prompt.ID, err)
		case !ok:
			add(InvTruth, "outcome not stored: prompt %s was shown as %s by %q (expired %v)", e.prompt.ID, e.decision, e.by, e.expired)
		case d.Decision != e.decision || d.By != e.by || d.Expired != e.expired:
			add(InvTruth, "shown differently: prompt %s was shown as %s by %q (expired %v), stored as %s by %q on %s (expired %v)",
				e.prompt.ID, e.decision, e.by, e.expired, d.Decision, d.By, replicaName(d.Replica), d.Expired)
		}
	}
}

func replicaName(r string) string {
	if r == "" {
		return "the only replica"
	}
	return fmt.Sprintf("replica %s", r)
}
