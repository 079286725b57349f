package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/gate"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/plan"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// The reference monitor: what runs is what was approved. The approved plan
// is a contract (the steps with their apps, functions, effects and
// arguments as the prompt showed them); whatever a spoke or its model does
// at run time is held to it here, in the hub, because the spoke is
// untrusted. What lies outside the contract is refused and audited, or
// asked about with a prompt that shows exactly what differs.

// lease is what the monitor lets the model of one plan step's invocation
// do: call the approved function, with the planned values the prompt
// showed, and nothing else of its app or of any other app.
type lease struct {
	// step is the 1-based plan step.
	step   int
	fn     apps.Function
	effect apps.Effect
	// fixed are the planned arguments that no earlier result fills: the
	// values the plan prompt showed, as JSON.
	fixed map[string]json.RawMessage
	// planned names every argument the plan had, fixed or filled.
	planned map[string]bool
	// once: the step's result is its one call's result (isc.Task.ResultOnly).
	// Every lease lets one call through: the decision showed one.
	once bool
	// confirm: the call sends or destroys with values a model chose from
	// another app's result; it is shown with them before it runs, whatever
	// grant is stored.
	confirm bool
	// calls counts the calls the monitor let through; args is the last.
	calls int
	args  json.RawMessage
}

// newLease returns the lease for a call of fn by a model: step is the
// 1-based plan step (0 for a call another app asked for), planned the
// arguments the prompt showed, where "<result_N>" values are the parts the
// model fills.
func newLease(step int, fn apps.Function, planned json.RawMessage, once bool) *lease {
	l := &lease{step: step, fn: fn, effect: fn.Declared(), once: once, fixed: map[string]json.RawMessage{}, planned: map[string]bool{}}
	var m map[string]json.RawMessage
	if json.Unmarshal(planned, &m) == nil {
		for k, v := range m {
			l.planned[k] = true
			if len((plan.Step{Args: v}).Refs()) == 0 {
				l.fixed[k] = v
			}
		}
	}
	return l
}

// what names what the lease was granted for, in the audit's words.
func (l *lease) what() string {
	if l.step == 0 {
		return "the approved call"
	}
	return fmt.Sprintf("step %d", l.step)
}

// offer removes from a model request every tool but the approved function.
func (l *lease) offer(req *llm.Request) {
	var kept []llm.Tool
	for _, tl := range req.Tools {
		if tl.Name == l.fn.Name {
			kept = append(kept, tl)
		}
	}
	req.Tools = kept
}

// differs lists the planned values a model-filled call changed, in the
// words a prompt shows.
func (l *lease) differs(args json.RawMessage) []string {
	var got map[string]json.RawMessage
	if json.Unmarshal(args, &got) != nil {
		return []string{"the arguments are not a JSON object"}
	}
	var out []string
	for _, k := range sortedRawKeys(l.fixed) {
		v, ok := got[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: the plan showed %s, the app's model left it out", k, compact(l.fixed[k])))
		case !jsonEqual(v, l.fixed[k]):
			out = append(out, fmt.Sprintf("%s: the plan showed %s, the app's model wrote %s", k, compact(l.fixed[k]), compact(v)))
		}
	}
	for _, k := range sortedRawKeys(got) {
		if !l.planned[k] {
			out = append(out, fmt.Sprintf("%s: not in the plan, the app's model added %s", k, compact(got[k])))
		}
	}
	return out
}

// modelAnswer holds a spoke model's answer to the invocation's lease
// before the spoke sees it: calls of anything but the approved function,
// and calls beyond the one the decision showed, are removed and audited; a
// call that changes a value the plan prompt showed is asked about with the
// difference. When the answer had calls and none is left, it returns the
// message for the spoke if the approved call was not made yet (the step
// fails), and otherwise lets the answer through without calls (the agent
// loop ends with the call it made).
func (h *Hub) modelAnswer(ctx context.Context, inv *invocation, resp *llm.Response) (refused string) {
	l := inv.lease
	if l == nil || len(resp.ToolCalls) == 0 {
		return ""
	}
	t, app := inv.turn, inv.app.Spec().ID
	var kept []llm.ToolCall
	var why []string
	for _, c := range resp.ToolCalls {
		reason := ""
		switch {
		case c.Name != l.fn.Name:
			reason = fmt.Sprintf("%s is not the function approved for %s (%s)", c.Name, l.what(), l.fn.Name)
		case l.calls > 0:
			reason = fmt.Sprintf("%s was already called once for %s", c.Name, l.what())
		case h.denied(t.execRequest(inv.app, c.Name, c.Arguments, "", false, "")) != "":
			reason = fmt.Sprintf("%s with these arguments is denied by an operator rule", c.Name)
		default:
			if d := l.differs(c.Arguments); (len(d) > 0 || l.confirm) && !h.confirmFilled(ctx, inv, c, d) {
				reason = fmt.Sprintf("%s with the arguments the app's model filled was not confirmed", c.Name)
				if len(d) > 0 {
					reason = fmt.Sprintf("%s with arguments that differ from the plan (%s) was not confirmed", c.Name, strings.Join(d, "; "))
				}
			}
		}
		if reason != "" {
			h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditMonitorRefused, Kind: chat.KindExec, App: app,
				Detail: truncate(reason+": "+compact(c.Arguments), 2000)})
			why = append(why, reason)
			continue
		}
		// A call that cannot be audited does not run (docs/state.md).
		if err := h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditModelFilledCall, Kind: chat.KindExec, App: app,
			Detail: truncate(c.Name+" "+compact(c.Arguments), 2000)}); err != nil {
			why = append(why, c.Name+" could not be audited")
			continue
		}
		l.calls++
		l.args = c.Arguments
		h.trace(TraceEvent{User: t.user, App: app, Type: vocab.TraceModelFilledCall, Step: l.step, Detail: c.Name + " " + compact(c.Arguments)})
		kept = append(kept, c)
	}
	resp.ToolCalls = kept
	if len(kept) == 0 && l.calls == 0 {
		return "the hub refused the call: " + strings.Join(why, "; ")
	}
	return ""
}

// confirmFilled asks the user about a model-filled call, with its
// arguments and each value it changed of what the plan prompt showed.
func (h *Hub) confirmFilled(ctx context.Context, inv *invocation, c llm.ToolCall, diff []string) bool {
	t := inv.turn
	data, reason := "Function: "+c.Name+"\nArguments: "+compact(c.Arguments), "the app's model filled these arguments from another app's result; these are the values it will use"
	if len(diff) > 0 {
		data = "Differs from the plan:\n" + strings.Join(diff, "\n") + "\n" + data
		reason = "the app's model filled this step's arguments and changed what the plan showed"
	}
	r := t.execRequest(inv.app, c.Name, c.Arguments, data, false, reason)
	r.Confirm = true
	d, err := h.gate.Check(ctx, t.c, r)
	return err == nil && d.Allows()
}

// execRequest is the exec request for running fn of app with args: every
// exec request, planned or not, carries the function's effect and its
// arguments, so that effect rules (deny: send:*) and their argument
// conditions match it.
func (t *turn) execRequest(app apps.App, fn string, args json.RawMessage, data string, unplanned bool, reason string) gateRequest {
	r := t.req(chat.KindExec, "", app.Spec().ID, fn, data, unplanned, reason)
	r.Effect, r.Args = string(effectOf(app, fn)), args
	return r
}

// denied names the operator rule that denies r with the values it carries,
// or "": the monitor holds a call to the rules with its concrete
// arguments, whatever was decided before they were known.
func (h *Hub) denied(r gateRequest) string {
	if ru, ok := h.gate.Rule(r); ok && ru.Action == gate.ActionDeny {
		return ru.String()
	}
	return ""
}

// effectOf is fn's declared effect; an unknown function counts as destroy.
func effectOf(app apps.App, fn string) apps.Effect {
	if f, ok := app.Spec().Function(fn); ok {
		return f.Declared()
	}
	return apps.EffectDestroy
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

func sortedRawKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// replanned holds a step planned again without the facts the user withheld
// to the step the user approved: it may drop or change only the arguments
// that carried a withheld fact. It returns the step to run and, when it is
// anything else (another function, another value where no fact was, an
// instruction-only step's new instruction), what differs, for a prompt
// that shows it.
func (t *turn) replanned(approved step, ns plan.Step, withheld map[string]string) (step, []string) {
	a, _ := t.h.o.Catalog.App(ids.AppID(ns.App))
	st := step{Step: ns, app: a, spec: a.Spec(), effect: apps.EffectRead}
	if f, ok := st.spec.Function(ns.Function); ok {
		st.fn, st.hasFn, st.effect = f, true, f.Declared()
	}
	var diff []string
	if ns.Function != approved.Function {
		diff = append(diff, fmt.Sprintf("function: the plan showed %s, the new plan runs %s (%s)", approved.Function, ns.Function, st.effect))
	}
	if !approved.hasFn || !st.hasFn {
		if ns.Instruction != approved.Instruction {
			diff = append(diff, fmt.Sprintf("instruction: the plan showed %q, the new plan has %q", approved.Instruction, ns.Instruction))
		}
		return st, diff
	}
	var was, now map[string]json.RawMessage
	_ = json.Unmarshal(approved.Args, &was)
	_ = json.Unmarshal(ns.Args, &now)
	keys := map[string]json.RawMessage{}
	for k, v := range was {
		keys[k] = v
	}
	for k, v := range now {
		keys[k] = v
	}
	for _, k := range sortedRawKeys(keys) {
		w, inWas := was[k]
		n, inNow := now[k]
		if inWas && len(t.rememberedIn(isc.Task{Args: w}, withheld)) > 0 {
			// It carried a withheld fact: the new plan may drop or change it.
			continue
		}
		switch {
		case !inWas:
			diff = append(diff, fmt.Sprintf("%s: not in the plan, the new plan adds %s", k, compact(n)))
		case !inNow:
			diff = append(diff, fmt.Sprintf("%s: the plan showed %s, the new plan leaves it out", k, compact(w)))
		case !jsonEqual(w, n):
			diff = append(diff, fmt.Sprintf("%s: the plan showed %s, the new plan has %s", k, compact(w), compact(n)))
		}
	}
	return st, diff
}

// flowsIn admits the results that flow into step i, each checked against
// every source its label names: the sources the plan showed as the
// approval decided (or, after "Review steps one by one", asked now with
// the data that moves), and any other source (an app an earlier step
// called at run time) asked on its own. It returns the label of the
// step's inputs, its own app included.
func (t *turn) flowsIn(ctx context.Context, st step, i int, results []stepResult, ap approval) (label, bool, error) {
	h, to := t.h, st.spec.ID
	in := newLabel(to, nil)
	planned := map[ids.AppID]bool{}
	for _, n := range st.Refs() {
		planned[results[n-1].app] = true
	}
	for _, u := range st.upstream {
		planned[u.app] = true
	}
	for _, n := range st.Refs() {
		src := results[n-1]
		if src.err != nil || src.denied {
			return in, false, publicf(errors.New("dependency missing"), "it needed the result of step %d, which did not run", n)
		}
		if !ap.askFlow[i][n] && !ap.flow[i][n] {
			return in, true, nil
		}
		for _, a := range src.label.sources(to) {
			if planned[a] && !ap.askFlow[i][n] {
				continue
			}
			reason := fmt.Sprintf("the plan passes the result of %s to %s", a, to)
			if a != src.app {
				reason = fmt.Sprintf("the result of step %d, which %s passes to %s, derives from what %s returned", n, src.app, to, a)
			}
			d, err := h.gate.Check(ctx, t.c, t.req(chat.KindCollab, a, to, st.Function, src.text, !planned[a], reason))
			if err != nil || !d.Allows() {
				h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditBlockedFlow, Kind: chat.KindCollab, App: to, Requester: a, Detail: truncate(src.text, 2000)})
				return in, true, err
			}
		}
		if err := h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditFlow, Kind: chat.KindCollab, App: to, Requester: src.app,
			Detail: truncate(sourcesNote(src.label, src.app, to)+src.text, 2000)}); err != nil {
			return in, false, err
		}
		in.add(src.label)
	}
	return in, false, nil
}

// sourcesNote names the sources of a flow besides the app it comes from.
func sourcesNote(l label, from, to ids.AppID) string {
	s := l.sources(from, to)
	if len(s) == 0 {
		return ""
	}
	var names []string
	for _, a := range s {
		names = append(names, string(a))
	}
	return "(derives also from " + strings.Join(names, ", ") + ") "
}

// inputs is a copy of the label of what inv holds; an invocation that
// was given none holds only its own app's data.
func (inv *invocation) inputs() label {
	l := newLabel(inv.app.Spec().ID, nil)
	if inv.label != nil {
		l.add(*inv.label)
	}
	return l
}

// sourcesReach checks, for data that from passes to to at run time, each
// source its label l names besides from and to (a collab request from that
// source), and each remembered fact it carries (a data request for to).
// Every such request is unplanned: the plan did not show it.
func (h *Hub) sourcesReach(ctx context.Context, inv *invocation, l label, from, to ids.AppID, fn, data string) bool {
	t := inv.turn
	for _, a := range l.sources(from, to) {
		d, err := h.gate.Check(ctx, t.c, t.req(chat.KindCollab, a, to, fn, data, true,
			fmt.Sprintf("what %s passes to %s derives from what %s returned", from, to, a)))
		if err != nil || !d.Allows() {
			h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditBlockedFlow, Kind: chat.KindCollab, App: to, Requester: a, Detail: truncate(data, 2000)})
			return false
		}
	}
	if len(l.facts) > 0 {
		d, err := h.gate.Check(ctx, t.c, t.req(chat.KindData, "", to, fn, formatFacts(l.facts), true,
			fmt.Sprintf("what %s passes to %s may carry these remembered facts", from, to)))
		if err != nil || !d.Allows() {
			h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditBlockedFlow, Kind: chat.KindData, App: to, Requester: from, Detail: formatFacts(l.facts)})
			return false
		}
		if err := h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditFlow, Kind: chat.KindData, App: to, Requester: from, Detail: formatFacts(l.facts)}); err != nil {
			return false
		}
	}
	return true
}
