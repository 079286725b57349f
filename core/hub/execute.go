package hub

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/plan"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// execute runs the approved plan's steps: independent groups
// concurrently, the steps of a group (joined by references, or changing
// one app's state) in the plan's order.
func (t *turn) execute(ctx context.Context, p *plan.Plan, steps []step, ap approval) []stepResult {
	results := make([]stepResult, len(steps))
	sharedState := func(i, j int) bool {
		a, b := steps[i], steps[j]
		return a.spec.Namespace() == b.spec.Namespace() && (a.effect != apps.EffectRead || b.effect != apps.EffectRead)
	}
	var wg sync.WaitGroup
	for _, g := range p.GroupsOrdered(sharedState) {
		wg.Add(1)
		go func(g []int) {
			defer wg.Done()
			for _, i := range g {
				results[i] = t.runStep(ctx, steps, i, results, ap)
			}
		}(g)
	}
	wg.Wait()
	return results
}

// stepRun is one plan step on its way through the execute stage: each
// admission (start, flows in, facts, the call itself) is the monitor's
// decision against the approved plan, then the call runs.
type stepRun struct {
	i  int
	st step
	// task is the call as it will run: arguments substituted, after a
	// re-plan without withheld facts, direct or filled by the app's model.
	task isc.Task
	// in is the label of what flows into the step (label.go).
	in label
	// diff is what a re-plan without withheld facts changed of the
	// approved step; non-empty, it is asked about before the step runs.
	diff []string
}

// runStep runs step i in its own spoke, as the approval allows. Each stage
// either passes the step on or ends it (a denial, or an error the reply
// shows).
func (t *turn) runStep(ctx context.Context, steps []step, i int, results []stepResult, ap approval) stepResult {
	sr := &stepRun{i: i, st: steps[i]}
	err := t.admitStart(ctx, sr, ap)
	if err == nil {
		err = t.admitFlows(ctx, sr, results, ap)
	}
	if err == nil {
		err = t.fill(sr, results)
	}
	if err == nil {
		err = t.admitFacts(ctx, sr, ap)
	}
	if err == nil {
		err = t.chooseCall(sr)
	}
	if err == nil {
		err = t.admitCall(ctx, sr, steps, ap)
	}
	if err != nil {
		res := stepResult{app: steps[i].spec.ID}
		var d *denial
		if errors.As(err, &d) {
			res.denied, res.err = true, d.err
		} else {
			res.err = err
		}
		return res
	}
	return t.call(ctx, sr)
}

// admitStart ends a step whose exec part was denied.
func (t *turn) admitStart(ctx context.Context, sr *stepRun, ap approval) error {
	if !ap.exec[sr.i] && !ap.askExec[sr.i] {
		t.h.dropWarm(ctx, t.user, sr.st.spec.ID, "exec denied")
		return &denial{}
	}
	return nil
}

// admitFlows lets the earlier results the step refers to flow in, each
// checked against every source its label names (flowsIn).
func (t *turn) admitFlows(ctx context.Context, sr *stepRun, results []stepResult, ap approval) error {
	in, denied, err := t.flowsIn(ctx, sr.st, sr.i, results, ap)
	sr.in = in
	switch {
	case denied:
		return &denial{err}
	case err != nil:
		return err
	}
	return nil
}

// fill substitutes the referenced results into the step's instruction and
// arguments. Only the referenced steps' results are read: they are in this
// step's group and done; other groups may still be writing theirs.
func (t *turn) fill(sr *stepRun, results []stepResult) error {
	st := sr.st
	texts := make([]string, len(results))
	typed := make([]plan.Result, len(results))
	for _, n := range st.Refs() {
		texts[n-1] = results[n-1].text
		typed[n-1] = plan.Result{JSON: results[n-1].json, Text: results[n-1].text}
	}
	sr.task = isc.Task{Instruction: plan.Substitute(st.Instruction, texts, false), Function: st.Function}
	if len(st.Args) > 0 {
		args, err := plan.SubstituteArgs(st.Args, typed)
		if err != nil {
			return publicf(err, "its arguments could not be filled in")
		}
		sr.task.Args = args
	}
	if !st.hasFn && strings.TrimSpace(sr.task.Instruction) == "" {
		sr.task.Instruction = t.query
	}
	return nil
}

// admitFacts lets remembered facts reach the app only as approved: those
// the step's own arguments carry, and those the results flowing in carry.
// Without approval the step is planned again with the facts hidden from
// the planner (and held to the approved step, replanned); facts an
// earlier result carries cannot be taken out of it, so the step is not
// run.
func (t *turn) admitFacts(ctx context.Context, sr *stepRun, ap approval) error {
	h, st := t.h, sr.st
	inherited := map[string]string{}
	for k, v := range sr.in.facts {
		if _, own := st.shared[k]; !own {
			inherited[k] = v
		}
	}
	if len(st.shared)+len(inherited) == 0 {
		return nil
	}
	all := st.facts()
	for k, v := range inherited {
		all[k] = v
	}
	allowed := ap.data[sr.i]
	if ap.askData[sr.i] {
		d, err := h.gate.Check(ctx, t.c, t.req(chat.KindData, "", st.spec.ID, st.Function, formatFacts(all), false,
			"remembered from an earlier conversation; you did not mention it in this message"))
		if err != nil {
			return err
		}
		allowed = d.Allows()
	}
	switch {
	case !allowed && len(inherited) > 0:
		return &denial{publicf(errors.New("inherited facts withheld"), "an earlier step's result carries remembered data you did not let %s have", st.spec.ID)}
	case !allowed:
		ns, err := t.withoutFacts(ctx, st.spec.ID, st.shared)
		if err != nil {
			return err
		}
		sr.st, sr.diff = t.replanned(st, ns, st.shared)
		sr.task = isc.Task{Instruction: ns.Instruction, Function: ns.Function, Args: ns.Args}
	default:
		if err := h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditFlow, Kind: chat.KindData, App: st.spec.ID, Detail: formatFacts(all)}); err != nil {
			return err
		}
		sr.in.add(newLabel("", st.shared))
	}
	return nil
}

// chooseCall decides how the call runs: a direct call when the arguments
// validate, else the app's own model fills them (ResultOnly), held by the
// monitor to the approved call (lease).
func (t *turn) chooseCall(sr *stepRun) error {
	st := sr.st
	if !st.hasFn {
		return nil
	}
	sc, err := t.h.compile(st.fn.Request)
	if err == nil {
		err = sc.Validate(sr.task.Args)
	}
	switch {
	case err == nil && !st.fn.NeedsModel:
		sr.task.Direct = true
	case err != nil && len(st.Refs()) == 0:
		return publicf(err, "its arguments did not match %s's request schema", sr.task.Function)
	default:
		// An earlier result did not fit the arguments as it is (a search's
		// hits where an ID is wanted): the app's own model fills them from
		// its task, and the function's result is the step's answer. The
		// monitor holds that model to the approved call, and shows a send
		// or destroy call with its values before the spoke may make it.
		sr.task.ResultOnly = true
	}
	return nil
}

// admitCall decides the call itself: asked on its own after "Review steps
// one by one" or when a re-plan changed it (showing what differs),
// confirmed with its concrete values when it sends or destroys with
// another app's result, and held to the deny rules with those values.
func (t *turn) admitCall(ctx context.Context, sr *stepRun, steps []step, ap approval) error {
	h, st, task := t.h, sr.st, sr.task
	if ap.askExec[sr.i] || len(sr.diff) > 0 {
		r := t.execRequest(st.app, task.Function, task.Args, describeTask(task), false, "the plan for your message uses this app")
		if task.ResultOnly {
			// The substituted values do not fit, so they are not what will
			// run: the app's model fills the "<result_N>" parts, and the
			// monitor holds it to the rest.
			shown := task
			shown.Args = st.Args
			r.Args = st.Args
			r.Data = describeTask(shown) + "\nThe app's own model fills the <result_N> values from those results."
		}
		if len(sr.diff) > 0 {
			r.Data = "Differs from the plan you approved:\n" + strings.Join(sr.diff, "\n") + "\n" + r.Data
			r.Reason, r.Confirm = "without the data you withheld the step was planned again, and it changed", true
		}
		d, err := h.gate.Check(ctx, t.c, r)
		if err != nil || !d.Allows() {
			h.dropWarm(ctx, t.user, st.spec.ID, "exec denied")
			return &denial{err}
		}
	}
	if st.confirms() && task.Direct && !ap.askExec[sr.i] {
		if ok, err := t.confirm(ctx, steps, sr.i, task); !ok {
			h.dropWarm(ctx, t.user, st.spec.ID, "exec denied")
			return &denial{err}
		}
	}
	if task.Direct {
		if ru := h.denied(t.execRequest(st.app, task.Function, task.Args, "", false, "")); ru != "" {
			h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditMonitorRefused, Kind: chat.KindExec, App: st.spec.ID,
				Detail: truncate(task.Function+" "+compact(task.Args)+": denied by the rule "+ru, 2000)})
			return &denial{}
		}
	}
	return nil
}

// call runs the admitted call in the step's own spoke. A call the app's
// model fills runs under a lease: the monitor offers that model only the
// approved function and holds its call to what the plan showed.
func (t *turn) call(ctx context.Context, sr *stepRun) stepResult {
	h, st, task := t.h, sr.st, sr.task
	res := stepResult{app: st.spec.ID}
	h.trace(TraceEvent{User: t.user, App: st.spec.ID, Type: vocab.TraceStepRun, Step: sr.i + 1})
	if task.Direct {
		h.trace(TraceEvent{User: t.user, App: st.spec.ID, Type: vocab.TraceDirectCall, Step: sr.i + 1, Detail: task.Function + " " + compact(task.Args)})
	}
	inv := &invocation{turn: t, app: st.app, task: task, label: &sr.in}
	if st.hasFn && !task.Direct {
		inv.lease = newLease(sr.i+1, st.fn, st.Args, task.ResultOnly)
		inv.lease.confirm = st.effect.Risky() && len(st.Refs()) > 0
	}
	fin, err := h.invoke(ctx, inv)
	if err != nil {
		res.err = err
		return res
	}
	res.text, res.direct = fin.Text, task.Direct
	res.json, res.label = fin.Result, *inv.label
	res.fn, res.args, res.given = task.Function, task.Args, task.Args
	if inv.lease != nil && inv.lease.args != nil {
		res.args = inv.lease.args
	}
	if len(res.json) == 0 || st.hasFn && st.fn.TextResult {
		// An envelope around text (an MCP result) flows on as its text.
		res.json, _ = json.Marshal(fin.Text)
	}
	return res
}
