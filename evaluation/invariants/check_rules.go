package invariants

import (
	"math/rand/v2"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/gate"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// InvRules is invariant 11 of the design: operator rules hold on every
// decision, planned or not, through any number of intermediate apps.
const InvRules = "I8 rule-conformance" // no decision and no run contradicts the episode's operator rules

// rulePool are the rules an episode draws from: effects, collab between
// apps that other apps may stand between, argument conditions, data.
var rulePool = [][2]string{
	{"deny", "collab:inv_alpha->inv_charlie"},
	{"deny", "collab:inv_bravo->inv_charlie"},
	{"deny", "collab:inv_charlie->inv_alpha"},
	{"deny", "collab:*->inv_note"},
	{"ask", "collab:inv_alpha->inv_bravo"},
	{"allow", "collab:inv_alpha->inv_bravo"},
	{"deny", "exec:inv_charlie"},
	{"allow", "exec:inv_alpha"},
	{"ask", "exec:inv_note"},
	{"deny", "send:*"},
	{"deny", "destroy:*"},
	{"ask", "write:*"},
	{"deny", "write:inv_bravo_run(data=*qz*)"},
	{"allow", "read:inv_alpha_run(data=do it*)"},
	{"deny", "data:inv_bravo"},
}

// drawRules draws an episode's operator rules (none in a third of the
// episodes) from their own generator, so that the rest of the episode
// draws what it would without them.
func drawRules(es uint64) []gate.Rule {
	rng := rand.New(rand.NewPCG(es, 0x52554c45))
	var out []gate.Rule
	if rng.IntN(3) == 0 {
		return nil
	}
	for i := 1 + rng.IntN(3); i > 0; i-- {
		p := rulePool[rng.IntN(len(rulePool))]
		r, err := gate.ParseRule(p[0], p[1])
		if err != nil {
			panic("invariants: bad rule in the pool: " + err.Error()) // a programmer error, at the first episode
		}
		out = append(out, r)
	}
	return out
}

// effectOf is a hostile function's declared effect (as its spec declares
// it; undeclared is destroy).
func effectOf(app ids.AppID, fn string) string {
	if fn == "" {
		// A step without a function (an annotation app) runs as read.
		return string(apps.EffectRead)
	}
	if e, ok := hostileEffects[app]; ok && fn == fnName(app) {
		return string(e)
	}
	// The reads server (check_reads.go) declares both its functions.
	switch {
	case app == appSrv && fn == srvRead:
		return string(apps.EffectRead)
	case app == appSrv && fn == srvWrite:
		return string(apps.EffectWrite)
	}
	return string(apps.EffectDestroy)
}

// checkRuleConformance is I8, over three things the episode shows:
//   - each audited decision: none allows what a deny rule matches, and no
//     stored grant decides what an ask rule matches;
//   - each call an app ran (ranCalls): no deny rule matches it, with the
//     concrete arguments it ran with;
//   - each app's spoke: no canary of an app reached it that a deny collab
//     rule keeps from it, whatever apps the data passed through on the way
//     (the canary names its origin; the frames are read off the socket).
func checkRuleConformance(evs []*event, rules []gate.Rule, add func(inv, format string, a ...any)) {
	if len(rules) == 0 {
		return
	}
	for _, e := range evs {
		if e.kind != evAudit || e.audit.Type != vocab.AuditDecision || !e.audit.Kind.Valid() {
			continue
		}
		a := e.audit
		r := gate.Request{User: a.User, Kind: a.Kind, Requester: a.Requester, Target: a.App}
		if a.Kind == chat.KindExec {
			r.Function, r.Args = shownCall(a.Detail)
			r.Effect = effectOf(a.App, r.Function)
		}
		ru, ok := gate.Decide(rules, r)
		switch {
		case !ok:
		case ru.Action == gate.ActionDeny && allowing(a.Decision):
			add(InvRules, "decision allows what a rule denies: %s %s %s->%s decided %s against %q (#%d)", a.Kind, r.Function, a.Requester, a.App, a.Decision, ru.String(), e.seq)
		case ru.Action == gate.ActionAsk && len(a.Decision) > 6 && a.Decision[:6] == "grant:":
			add(InvRules, "grant decides what a rule asks: %s %s %s->%s decided %s against %q (#%d)", a.Kind, r.Function, a.Requester, a.App, a.Decision, ru.String(), e.seq)
		}
	}
	for _, c := range ranCalls(evs) {
		r := gate.Request{User: c.user, Kind: chat.KindExec, Target: c.app, Function: c.fn, Effect: effectOf(c.app, c.fn), Args: c.args}
		if ru, ok := gate.Decide(rules, r); ok && ru.Action == gate.ActionDeny {
			add(InvRules, "ran what a rule denies: app %s of %s ran %s %s against %q (pid %d, #%d)", c.app, c.user, c.fn, clip(compact(c.args)), ru.String(), c.pid, c.seq)
		}
	}
	// Canaries into each spoke, by origin. What the spoke itself sent (its
	// model echoing it back) or its own app wrote is not a flow.
	spokes := map[int]*event{}
	sent := map[int]map[string]bool{}
	for _, e := range evs {
		switch e.kind {
		case evSpokeStart:
			spokes[e.pid] = e
		case evFrameOut:
			if sent[e.pid] == nil {
				sent[e.pid] = map[string]bool{}
			}
			for _, t := range Canaries(e.text) {
				sent[e.pid][t] = true
			}
		case evFrameIn:
			s := spokes[e.pid]
			if s == nil || s.app == appThief || e.frame == isc.KindModelResponse {
				continue
			}
			for _, t := range Canaries(e.text) {
				from := appByCode(t[len(canaryPrefix)])
				if from == "" || from == s.app || sent[e.pid][t] {
					continue
				}
				r := gate.Request{User: s.user, Kind: chat.KindCollab, Requester: from, Target: s.app}
				if ru, ok := gate.Decide(rules, r); ok && ru.Action == gate.ActionDeny {
					add(InvRules, "data reached an app a rule keeps it from: canary %s of %s reached %s of %s in a %s frame against %q (pid %d, #%d)",
						t, from, s.app, s.user, e.frame, ru.String(), e.pid, e.seq)
				}
			}
		}
	}
}

// ruleAllow learns an operator allow rule's decision (audited "rule:allow",
// no prompt): for the checks of I1 to I3 it stands like a stored grant of
// the operator's, planned or not.
func (c *checker) ruleAllow(e *event) {
	a := e.audit
	if a.Type != vocab.AuditDecision || a.Decision != "rule:allow" || !a.Kind.Valid() {
		return
	}
	for _, unplanned := range []bool{false, true} {
		c.grants = append(c.grants, grant{user: a.User, kind: a.Kind, requester: a.Requester, target: a.App, unplanned: unplanned, seq: e.seq})
	}
}
