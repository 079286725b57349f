package invariants

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/respond"
)

// InvReply is I10, reply integrity: the reply attributes to an app only
// figures that app returned (or the user's message holds). Figures are
// read off the spokes' own final frames, attribution as the hub documents
// it (core/respond: a figure belongs to the app named last before it in
// its sentence, a sentence naming none to the apps of the sentence before).
const InvReply = "I10 reply-integrity"

// hubLineRE matches the lines the hub itself adds under a reply: steps not
// run or failed (their step numbers are the hub's), the apps drawn on,
// and the offer of another plan.
var hubLineRE = regexp.MustCompile(`^(\*\*[a-z0-9_.:-]+\*\*: (not run|failed): .*|_Drew on: .*_|.*` + replanOffer + `.*)$`)

// checkReply checks I10 over one episode's events (sorted by seq).
func checkReply(evs []*event) []Violation {
	type turn struct {
		question map[string]bool
		own      map[string]map[string]bool
		returned []string
	}
	spokes := map[int]*spokeInfo{}
	turns := map[ids.UserID]*turn{}
	asked := map[ids.UserID]string{}
	var out []Violation
	reported := map[string]bool{}
	for _, e := range evs {
		switch e.kind {
		case evSpokeStart:
			spokes[e.pid] = &spokeInfo{user: e.user, app: e.app}
		case evTurnStart:
			if e.command {
				// A command runs no app; a request it came during is
				// still the user's turn.
				continue
			}
			q := e.text
			if t := strings.ToLower(strings.TrimSpace(q)); t == "yes" || strings.HasPrefix(t, "!") {
				q += " " + asked[e.user]
			} else {
				asked[e.user] = q
			}
			turns[e.user] = &turn{question: respond.Figures(q), own: map[string]map[string]bool{}}
		case evFrameIn, evFrameOut:
			s, t := spokes[e.pid], (*turn)(nil)
			if s != nil {
				t = turns[s.user]
			}
			if t == nil || (e.frame != isc.KindFinal && e.frame != isc.KindInit) {
				continue
			}
			app := string(s.app)
			if t.own[app] == nil {
				t.own[app] = map[string]bool{}
			}
			for k := range respond.Figures(e.text) {
				t.own[app][k] = true
			}
			if e.frame == isc.KindFinal && !contains(t.returned, app) {
				t.returned = append(t.returned, app)
			}
		case evReply:
			t := turns[e.user]
			if e.command || t == nil || len(t.returned) == 0 {
				continue
			}
			for _, v := range replyClaims(e.text, t.returned, t.own, t.question) {
				if key := string(e.user) + "|" + v; !reported[key] {
					reported[key] = true
					out = append(out, Violation{Invariant: InvReply, Cause: "figure not returned by its app", Detail: v,
						Path: []string{fmt.Sprintf("#%d reply to %s: %s", e.seq, e.user, clip(e.text))}})
				}
			}
		}
	}
	return out
}

// replyClaims returns a description of each figure of reply that is
// attributed to apps none of which returned it.
func replyClaims(reply string, returned []string, own map[string]map[string]bool, question map[string]bool) []string {
	var body []string
	for _, line := range strings.Split(reply, "\n") {
		if !hubLineRE.MatchString(strings.TrimSpace(line)) {
			body = append(body, line)
		}
	}
	at := respond.NewAttributor(returned)
	done, rest := respond.Sentences(strings.Join(body, "\n"))
	var out []string
	for _, s := range append(done, rest) {
		for _, cl := range at.Sentence(s) {
			if !respond.Genuine(cl.Figure, cl.Apps, own, question) {
				out = append(out, fmt.Sprintf("the reply gives %s %s, which it did not return, in %q", strings.Join(cl.Apps, " or "), cl.Figure, strings.TrimSpace(s)))
			}
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
