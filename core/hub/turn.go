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
	"github.com/secgpt-go/secgpt/core/plan"
	"github.com/secgpt-go/secgpt/core/schema"
)

// turn is the handling of one user message.
type turn struct {
	h       *Hub
	user    ids.UserID
	conv    ids.ConversationID
	session ids.SessionID
	c       chat.Conversation
	query   string
	exclude map[ids.AppID]bool
	// out is where the reply goes; the responder streams into it.
	out *replyOut
	// answered, if set by a command, runs once its reply is posted (a
	// forget lets the user's requests start again: running.hold).
	answered func()
	// running is the request as a forget sees it (running.go); nil for a
	// turn that is no request.
	running *runningTurn
	// prepared releases the spawner's expectation of this turn's first
	// spoke (prepareSpoke); nil when there is none.
	prepared func()
}

// stepResult is what one plan step produced.
type stepResult struct {
	app  ids.AppID
	text string
	// json is the result's value: the structured result, or the text as a
	// JSON string.
	json json.RawMessage
	// direct: the step ran as a direct call (no model wrote its answer).
	direct bool
	denied bool
	err    error
	// label is what the result derives from (label.go).
	label label
	// fn and args are the call the step ran: after a re-plan without a
	// withheld fact they are not the planned ones.
	fn   string
	args json.RawMessage
	// given are the arguments the app was given in its Init; args differ
	// when the app's model filled them.
	given json.RawMessage
}

// step is one plan step with what the hub knows of it from trusted
// metadata.
type step struct {
	plan.Step
	app    apps.App
	spec   apps.Spec
	fn     apps.Function
	hasFn  bool
	effect apps.Effect
	// shared are the remembered facts in its planned arguments or
	// instruction that the user did not give in this message.
	shared map[string]string
	// inherited are the remembered facts that earlier steps' results
	// carry into this one (their shared and inherited facts).
	inherited map[string]string
	// upstream are the apps, besides the referenced steps' own, that the
	// results flowing into this step derive from, each with the first step
	// it ran in and the referenced step it comes through.
	upstream []upstream
	// sources are every app its result derives from as planned, its own
	// first, each with the first step it ran in.
	sources []upstream
}

// upstream is an app whose output reaches a step through another step.
type upstream struct {
	app     ids.AppID
	origin  int // 1-based step the app ran in
	through int // 1-based referenced step that carries it
}

// facts are every remembered fact the step would receive.
func (s step) facts() map[string]string {
	out := map[string]string{}
	for k, v := range s.inherited {
		out[k] = v
	}
	for k, v := range s.shared {
		out[k] = v
	}
	return out
}

// approval is what the user (or a rule or stored grant) decided for the
// plan's parts.
type approval struct {
	exec []bool
	data []bool
	// flow[i][n] is whether result n may flow into step i.
	flow []map[int]bool
	// After "Review steps one by one", the parts no rule or grant decided
	// are asked when their step runs, each with the exact data it moves.
	askExec, askData []bool
	askFlow          []map[int]bool
}

// run handles the turn's query as a pipeline of named stages: plan (the
// hub's model), approve (one prompt for the whole plan, the monitor's
// contract), execute (each step admitted by the monitor, then run in its
// own spoke), remember (the values the user gave) and respond. It returns
// the reply and the apps whose steps the user denied.
func (t *turn) run(ctx context.Context) (string, []ids.AppID) {
	h := t.h
	t.prepared = h.prepareSpoke()
	defer t.spokeStarted()
	facts, err := h.o.Store.Entities(ctx, t.user)
	if err != nil {
		h.log.Error("read entity memory", "err", err)
		facts = nil
	}
	p, err := t.plan(ctx, facts, nil)
	if err != nil {
		h.log.Warn("planning failed", "user", t.user, "err", err)
		return "Sorry, I could not make a plan for that: " + publicMessage(err) + ".", nil
	}
	if len(p.Steps) == 0 {
		if p.Answer != "" {
			return p.Answer, nil
		}
		return "I have no app that can help with that.", nil
	}
	steps := t.prepare(p, facts)
	ap, err := t.approve(ctx, steps)
	if err != nil {
		h.log.Error("plan approval", "user", t.user, "err", err)
		return "Sorry, I could not ask for your permission: " + publicMessage(err) + ".", nil
	}
	results := t.execute(ctx, p, steps, ap)
	if stopped(ctx) {
		return stoppedReply, nil
	}
	t.remember(ctx, p, results)
	return t.respond(ctx, steps, results)
}

// prepareSpoke tells the spawner, if it can start spokes ahead of need
// (PreparingSpawner), that a turn is planning: its model's latency leaves
// the CPU idle, in which a spoke can start confined and wait, holding no
// app, policy or user until a Start claims it. It returns the release of
// that expectation.
func (h *Hub) prepareSpoke() func() {
	if p, ok := preparing(h.o.Spawner); ok {
		return p.Prepare()
	}
	return nil
}

// spokeStarted releases the spawner's expectation of this turn's first
// spoke: it has started, or the turn is over. It may be called more than
// once, from any goroutine.
func (t *turn) spokeStarted() {
	if t.prepared != nil {
		t.prepared()
	}
}

// plan asks the hub's model for a plan. only, if set, restricts the
// candidate apps.
func (t *turn) plan(ctx context.Context, facts map[string]string, only map[ids.AppID]bool) (*plan.Plan, error) {
	// A request a forget stopped (or whose caller went away) asks the
	// planner nothing more: the facts it read may be the ones forgotten.
	if ctx.Err() != nil {
		return nil, fmt.Errorf("plan: %w", context.Cause(ctx))
	}
	pl := &plan.Planner{Model: t.h.o.Model, Compile: t.h.compile, Logger: t.h.log}
	return pl.Make(ctx, t.query, t.candidates(only), facts)
}

// candidates returns the installed apps the planner may use.
func (t *turn) candidates(only map[ids.AppID]bool) []apps.App {
	var out []apps.App
	for _, id := range t.h.o.Catalog.IDs() {
		if t.exclude[id] || (only != nil && !only[id]) {
			continue
		}
		a, _ := t.h.o.Catalog.App(id)
		out = append(out, a)
	}
	return out
}

// prepare looks up each step's app, function and effect.
func (t *turn) prepare(p *plan.Plan, facts map[string]string) []step {
	out := make([]step, len(p.Steps))
	for i, s := range p.Steps {
		a, _ := t.h.o.Catalog.App(ids.AppID(s.App))
		st := step{Step: s, app: a, spec: a.Spec(), effect: apps.EffectRead}
		if f, ok := st.spec.Function(s.Function); ok {
			st.fn, st.hasFn, st.effect = f, true, f.Declared()
		}
		st.shared = t.rememberedIn(isc.Task{Instruction: s.Instruction, Args: s.Args}, facts)
		// The labels the plan implies: what flows in carries every app and
		// fact it derives from.
		st.inherited = map[string]string{}
		st.sources = []upstream{{app: st.spec.ID, origin: i + 1}}
		seen := map[ids.AppID]bool{st.spec.ID: true}
		for _, n := range s.Refs() {
			seen[out[n-1].spec.ID] = true
		}
		have := map[ids.AppID]bool{st.spec.ID: true}
		for _, n := range s.Refs() {
			src := out[n-1]
			for k, v := range src.facts() {
				if _, own := st.shared[k]; !own {
					st.inherited[k] = v
				}
			}
			for _, u := range src.sources {
				if !have[u.app] {
					have[u.app] = true
					st.sources = append(st.sources, u)
				}
				// The referenced steps' own apps are flows of their own.
				if !seen[u.app] {
					seen[u.app] = true
					st.upstream = append(st.upstream, upstream{app: u.app, origin: u.origin, through: n})
				}
			}
		}
		out[i] = st
	}
	return out
}

// confirms reports whether step s is shown again with its concrete
// arguments before it runs: it sends or destroys, and its arguments come
// from another app's result.
func (s step) confirms() bool { return s.effect.Risky() && len(s.Refs()) > 0 }

// approve puts the whole plan to the gate: one prompt for every part not
// already decided by a rule or a stored grant. A user who chooses to review
// the steps one by one is asked each open part on its own.
func (t *turn) approve(ctx context.Context, steps []step) (approval, error) {
	pr := gate.PlanRequest{User: t.user, Session: t.session, Conversation: t.conv}
	ap := approval{exec: make([]bool, len(steps)), data: make([]bool, len(steps)), flow: make([]map[int]bool, len(steps)),
		askExec: make([]bool, len(steps)), askData: make([]bool, len(steps)), askFlow: make([]map[int]bool, len(steps))}
	type where struct {
		kind chat.Kind
		i, n int
	}
	var at []where
	for i, s := range steps {
		ps := chat.PlanStep{N: i + 1, App: s.spec.ID, Function: s.Function, Effect: string(s.effect), Claims: s.fn.Hints, Confirm: s.confirms()}
		if !s.hasFn {
			ps.Instruction = s.Instruction
		}
		for _, f := range s.Fields() {
			ps.Args = append(ps.Args, chat.Field{Name: f[0], Value: f[1]})
		}
		pr.Steps = append(pr.Steps, ps)
		pr.Parts = append(pr.Parts, gate.PlanPart{Request: gate.Request{Kind: chat.KindExec, Target: s.spec.ID, Function: s.Function,
			Effect: string(s.effect), Args: s.Args, Data: describeTask(isc.Task{Function: s.Function, Instruction: s.Instruction, Args: s.Args}),
			Reason: "the plan for your message uses this app"}, Step: i, Flow: -1})
		at = append(at, where{chat.KindExec, i, 0})
		ap.flow[i], ap.askFlow[i] = map[int]bool{}, map[int]bool{}
		for _, n := range s.Refs() {
			src := steps[n-1]
			pr.Flows = append(pr.Flows, chat.PlanFlow{From: n, To: i + 1, FromApp: src.spec.ID, ToApp: s.spec.ID, Into: strings.Join(s.Into(n), ", ")})
			pr.Parts = append(pr.Parts, gate.PlanPart{Request: gate.Request{Kind: chat.KindCollab, Requester: src.spec.ID, Target: s.spec.ID,
				Function: s.Function, Data: fmt.Sprintf("the result of step %d", n),
				Reason: fmt.Sprintf("the plan passes the result of %s to %s", src.spec.ID, s.spec.ID)}, Step: i, Flow: len(pr.Flows) - 1})
			at = append(at, where{chat.KindCollab, i, n})
		}
		// An app whose output reaches this step through another step is a
		// source of its own: rules, grants and the prompt see that flow too.
		for _, u := range s.upstream {
			pr.Flows = append(pr.Flows, chat.PlanFlow{From: u.origin, To: i + 1, FromApp: u.app, ToApp: s.spec.ID,
				Into: fmt.Sprintf("%s (through step %d)", strings.Join(s.Into(u.through), ", "), u.through)})
			pr.Parts = append(pr.Parts, gate.PlanPart{Request: gate.Request{Kind: chat.KindCollab, Requester: u.app, Target: s.spec.ID,
				Function: s.Function, Data: fmt.Sprintf("the result of step %d, which derives from %s's result", u.through, u.app),
				Reason: fmt.Sprintf("the plan passes what %s returned, through step %d, to %s", u.app, u.through, s.spec.ID)}, Step: i, Flow: len(pr.Flows) - 1})
			at = append(at, where{chat.KindCollab, i, u.through})
		}
		if all := s.facts(); len(all) > 0 {
			for _, k := range sortedKeys(all) {
				pr.Facts = append(pr.Facts, chat.PlanFact{Step: i + 1, App: s.spec.ID, Key: k, Value: all[k]})
			}
			pr.Parts = append(pr.Parts, gate.PlanPart{Request: gate.Request{Kind: chat.KindData, Target: s.spec.ID, Function: s.Function,
				Data: formatFacts(all), Reason: "remembered from an earlier conversation; you did not mention it in this message"}, Step: i, Flow: -1})
			at = append(at, where{chat.KindData, i, 0})
		}
	}
	res, err := t.h.gate.CheckPlan(ctx, t.c, pr)
	if err != nil {
		return ap, err
	}
	for k, w := range at {
		d := res.Decisions[k]
		if res.Review && d == "" {
			// Decided on its own when its step runs, with the exact data.
			switch w.kind {
			case chat.KindExec:
				ap.askExec[w.i] = true
			case chat.KindData:
				ap.askData[w.i] = true
			case chat.KindCollab:
				ap.askFlow[w.i][w.n] = true
			}
			continue
		}
		switch w.kind {
		case chat.KindExec:
			ap.exec[w.i] = d.Allows()
		case chat.KindData:
			ap.data[w.i] = d.Allows()
		case chat.KindCollab:
			// A flow is allowed when each of its sources is.
			prev, seen := ap.flow[w.i][w.n]
			ap.flow[w.i][w.n] = d.Allows() && (!seen || prev)
		}
	}
	return ap, nil
}

// confirm shows a send or destroy step again with its concrete arguments,
// unless an always grant covers every flow into it.
func (t *turn) confirm(ctx context.Context, steps []step, i int, task isc.Task) (bool, error) {
	st := steps[i]
	covered := true
	for _, n := range st.Refs() {
		ok, err := t.h.gate.StoredAlways(ctx, gate.Request{User: t.user, Kind: chat.KindCollab, Requester: steps[n-1].spec.ID,
			Target: st.spec.ID, Function: st.Function})
		if err != nil || !ok {
			covered = false
			break
		}
	}
	if covered {
		return true, nil
	}
	d, err := t.h.gate.Check(ctx, t.c, gate.Request{User: t.user, Session: t.session, Conversation: t.conv, Kind: chat.KindExec,
		Target: st.spec.ID, Function: st.Function, Effect: string(st.effect), Args: task.Args, Confirm: true, Data: "Function: " + task.Function + "\nArguments: " + string(task.Args),
		Reason: "its arguments were filled from another app's result; these are the values it will use"})
	return err == nil && d.Allows(), err
}

// rememberedIn returns the facts whose values appear in the task but not in
// the user's message, matched on normalised tokens (factTokens).
func (t *turn) rememberedIn(task isc.Task, facts map[string]string) map[string]string {
	blob := factTokens(task.Instruction + " " + jsonText(task.Args))
	q := factTokens(t.query)
	out := map[string]string{}
	for k, v := range facts {
		fv := factTokens(v)
		if len(strings.Join(fv, "")) < 3 || containsTokens(q, fv) {
			continue
		}
		if containsTokens(blob, fv) {
			out[k] = v
		}
	}
	return out
}

// withoutFacts replans one step with the remembered facts hidden from the
// planner, then makes sure none of the withheld values is left in it.
func (t *turn) withoutFacts(ctx context.Context, app ids.AppID, withheld map[string]string) (plan.Step, error) {
	p, err := t.plan(ctx, nil, map[ids.AppID]bool{app: true})
	if err != nil {
		return plan.Step{}, err
	}
	var ns *plan.Step
	for i := range p.Steps {
		if p.Steps[i].App == string(app) && len(p.Steps[i].Refs()) == 0 {
			ns = &p.Steps[i]
			break
		}
	}
	if ns == nil {
		return plan.Step{}, publicf(errors.New("replan dropped the step"), "without the data you withheld there was no plan for %s", app)
	}
	if left := t.rememberedIn(isc.Task{Instruction: ns.Instruction, Args: ns.Args}, withheld); len(left) > 0 {
		return plan.Step{}, publicf(errors.New("withheld data still in plan"), "the model kept using data you withheld, so %s was not run", app)
	}
	return *ns, nil
}

// remember stores, as entity facts, the argument values the user gave in
// this message (only values that appear in the message itself).
func (t *turn) remember(ctx context.Context, p *plan.Plan, results []stepResult) {
	q := strings.ToLower(t.query)
	facts := map[string]string{}
	for i, s := range p.Steps {
		if results[i].err != nil || results[i].denied || len(s.Args) == 0 {
			continue
		}
		var m map[string]any
		if json.Unmarshal(s.Args, &m) != nil {
			continue
		}
		for k, v := range m {
			sv, ok := v.(string)
			if !ok || len(sv) < 2 || len(sv) > 500 || !strings.Contains(q, strings.ToLower(sv)) {
				continue
			}
			facts[k] = sv
		}
	}
	if len(facts) == 0 {
		return
	}
	err := t.running.keep(func() error { return t.h.o.Store.PutEntities(ctx, t.user, facts) })
	if err != nil && !errors.Is(err, errForgotten) {
		t.h.log.Error("store entity memory", "err", err)
	}
}

func (t *turn) req(kind chat.Kind, requester, target ids.AppID, fn, data string, unplanned bool, reason string) gateRequest {
	return gateRequest{User: t.user, Session: t.session, Conversation: t.conv, Kind: kind, Requester: requester,
		Target: target, Function: fn, Data: data, Unplanned: unplanned, Reason: reason}
}

func formatFacts(f map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(f) {
		fmt.Fprintf(&b, "%s: %s\n", k, f[k])
	}
	return strings.TrimRight(b.String(), "\n")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// describeTask is what an exec prompt and its audit record show of a
// call: the function (so that what ran can be matched to what was shown),
// the instruction and the arguments.
func describeTask(t isc.Task) string {
	s := "Instruction: " + t.Instruction
	if t.Function != "" {
		s = "Function: " + t.Function + "\n" + s
	}
	if len(t.Args) > 0 {
		s += "\nArguments: " + string(t.Args)
	}
	return s
}

func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// compile returns the compiled schema for raw, caching by content.
func (h *Hub) compile(raw json.RawMessage) (*schema.Schema, error) {
	key := string(raw)
	h.mu.Lock()
	if h.schemas == nil {
		h.schemas = map[string]*schema.Schema{}
	}
	s, ok := h.schemas[key]
	h.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := schema.Compile(raw)
	if err != nil {
		return nil, fmt.Errorf("compile app schema: %w", err)
	}
	h.mu.Lock()
	h.schemas[key] = s
	h.mu.Unlock()
	return s, nil
}
