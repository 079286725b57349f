package invariants

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// InvPlan is invariant 10 of the design: what runs is what was approved.
const InvPlan = "I7 plan-conformance" // every function that ran, with its arguments, is one an allowing exec decision showed

// ranCall is one function an app ran, read off its spoke's socket: a
// direct call's init, or a call of one of the app's own functions in a
// model answer the hub passed to the spoke (the spoke runs those itself).
type ranCall struct {
	seq  int64
	pid  int
	user ids.UserID
	app  ids.AppID
	fn   string
	args json.RawMessage
	how  string
}

// ranCalls lists the calls the episode's apps ran.
func ranCalls(evs []*event) []ranCall {
	spokes := map[int]*event{}
	for _, e := range evs {
		if e.kind == evSpokeStart {
			spokes[e.pid] = e
		}
	}
	var out []ranCall
	for _, e := range evs {
		s := spokes[e.pid]
		if e.kind != evFrameIn || s == nil {
			continue
		}
		switch e.frame {
		case isc.KindInit:
			var f struct {
				Body isc.Init `json:"body"`
			}
			if json.Unmarshal([]byte(e.text), &f) == nil && f.Body.Task.Direct {
				out = append(out, ranCall{e.seq, e.pid, s.user, s.app, f.Body.Task.Function, f.Body.Task.Args, "direct call"})
			}
		case isc.KindModelResponse:
			var f struct {
				Body llm.Response `json:"body"`
			}
			if json.Unmarshal([]byte(e.text), &f) != nil {
				continue
			}
			for _, c := range f.Body.ToolCalls {
				if ownFunction(s.app, c.Name) {
					out = append(out, ranCall{e.seq, e.pid, s.user, s.app, c.Name, c.Arguments, "model-filled call"})
				}
			}
		}
	}
	return out
}

// ownFunction reports whether fn is one of app's functions (the hostile
// apps' specs, which the hub side of a test may not have registered).
func ownFunction(app ids.AppID, fn string) bool {
	if app == appNote {
		return false
	}
	return fn == fnName(app) || app == appB && fn == fnWipe
}

// execShown is what one allowing exec decision showed: the function and
// the arguments (nil when it showed none).
type execShown struct {
	seq  int64
	user ids.UserID
	app  ids.AppID
	fn   string
	args json.RawMessage
}

// allowingExecs lists the allowing exec decisions in the audit log: a
// prompt's answer, a stored grant or an allow rule, each with the data the
// request showed ("Function: …", "Arguments: …").
func allowingExecs(evs []*event) []execShown {
	var out []execShown
	for _, e := range evs {
		if e.kind != evAudit || e.audit.Type != vocab.AuditDecision || e.audit.Kind != chat.KindExec || !allowing(e.audit.Decision) {
			continue
		}
		fn, args := shownCall(e.audit.Detail)
		out = append(out, execShown{e.seq, e.audit.User, e.audit.App, fn, args})
	}
	return out
}

// allowing reports whether an audited decision let the request through.
func allowing(d string) bool {
	d = strings.TrimPrefix(strings.TrimPrefix(d, "grant:"), "rule:")
	return d == "allow" || chat.Decision(d).Allows()
}

// shownCall reads the function and arguments a request's data showed.
func shownCall(detail string) (string, json.RawMessage) {
	var fn string
	if _, rest, ok := strings.Cut(detail, "Function: "); ok {
		fn, _, _ = strings.Cut(rest, "\n")
	}
	i := strings.LastIndex(detail, "Arguments: ")
	if i < 0 {
		return fn, nil
	}
	var v json.RawMessage
	if json.NewDecoder(strings.NewReader(detail[i+len("Arguments: "):])).Decode(&v) != nil {
		// Cut short in the audit record: keep what is there.
		return fn, json.RawMessage(detail[i+len("Arguments: "):])
	}
	return fn, v
}

// argsMatch reports whether a call's arguments are those shown: each shown
// value equal, except one that another app's result fills ("<result_N>"
// in it), and no argument the prompt did not show.
func argsMatch(shown, ran json.RawMessage) bool {
	var s, r map[string]json.RawMessage
	if json.Unmarshal(shown, &s) != nil {
		// The audit record was cut short: its text must start the call's.
		cut := strings.TrimSuffix(string(shown), "…")
		return len(cut) > 0 && strings.HasPrefix(compact(ran), compact([]byte(cut))) || bytes.HasPrefix(ran, []byte(cut))
	}
	if json.Unmarshal(ran, &r) != nil {
		return false
	}
	for k, rv := range r {
		sv, ok := s[k]
		if !ok {
			return false
		}
		if !strings.Contains(string(sv), "<result_") && compact(sv) != compact(rv) {
			return false
		}
	}
	return true
}

// checkPlanConformance is I7: every call an app ran is one that an
// allowing exec decision for that user and app showed before it ran: the
// same function, and the arguments shown (a value filled from another
// app's result aside).
func checkPlanConformance(evs []*event, add func(inv, format string, a ...any)) {
	shown := allowingExecs(evs)
	for _, c := range ranCalls(evs) {
		ok := false
		for _, s := range shown {
			if s.seq < c.seq && s.user == c.user && s.app == c.app && s.fn == c.fn && argsMatch(s.args, c.args) {
				ok = true
				break
			}
		}
		if !ok {
			add(InvPlan, "%s no decision showed it: app %s of %s ran %s %s (pid %d, #%d)", c.how+":", c.app, c.user, c.fn, clip(compact(c.args)), c.pid, c.seq)
		}
	}
}
