package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/gate"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/plan"
	"github.com/secgpt-go/secgpt/core/respond"
	"github.com/secgpt-go/secgpt/core/schema"
	"github.com/secgpt-go/secgpt/core/state"
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
}

// errPublic is an error whose message may be shown to the user.
type errPublic struct {
	msg string
	err error
}

func (e *errPublic) Error() string { return e.msg + ": " + e.err.Error() }
func (e *errPublic) Unwrap() error { return e.err }

func publicf(err error, format string, a ...any) error {
	return &errPublic{msg: fmt.Sprintf(format, a...), err: err}
}

func publicMessage(err error) string {
	var pe *errPublic
	if errors.As(err, &pe) {
		return pe.msg
	}
	var pl *plan.Error
	if errors.As(err, &pl) {
		return pl.PublicMessage()
	}
	return "something went wrong (see the assistant's log)"
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

// run plans and executes the turn's query and returns the reply and the
// apps whose steps the user denied.
func (t *turn) run(ctx context.Context) (string, []ids.AppID) {
	h := t.h
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
	results := make([]stepResult, len(steps))
	var wg sync.WaitGroup
	for _, g := range p.Groups() {
		wg.Add(1)
		go func(g []int) {
			defer wg.Done()
			for _, i := range g {
				results[i] = t.runStep(ctx, steps, i, results, ap)
			}
		}(g)
	}
	wg.Wait()
	t.remember(ctx, p, results)
	return t.respond(ctx, steps, results)
}

// plan asks the hub's model for a plan. only, if set, restricts the
// candidate apps.
func (t *turn) plan(ctx context.Context, facts map[string]string, only map[ids.AppID]bool) (*plan.Plan, error) {
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
			Effect: string(s.effect), Data: describeTask(isc.Task{Instruction: s.Instruction, Args: s.Args}),
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
		if len(s.shared) > 0 {
			for _, k := range sortedKeys(s.shared) {
				pr.Facts = append(pr.Facts, chat.PlanFact{Step: i + 1, App: s.spec.ID, Key: k, Value: s.shared[k]})
			}
			pr.Parts = append(pr.Parts, gate.PlanPart{Request: gate.Request{Kind: chat.KindData, Target: s.spec.ID, Function: s.Function,
				Data: formatFacts(s.shared), Reason: "remembered from an earlier conversation; you did not mention it in this message"}, Step: i, Flow: -1})
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
			ap.flow[w.i][w.n] = d.Allows()
		}
	}
	return ap, nil
}

// runStep runs step i in its own spoke, as the approval allows: a direct
// call when its function's arguments validate after substitution, else the
// app's own model with the task.
func (t *turn) runStep(ctx context.Context, steps []step, i int, results []stepResult, ap approval) stepResult {
	hb := t.h
	st := steps[i]
	sp := st.spec
	res := stepResult{app: sp.ID}
	if !ap.exec[i] && !ap.askExec[i] {
		hb.dropWarm(ctx, t.user, sp.ID, "exec denied")
		res.denied = true
		return res
	}
	// Results of earlier steps flow into this one only as the plan's
	// approval allows.
	for _, n := range st.Refs() {
		src := results[n-1]
		if src.err != nil || src.denied {
			res.err = publicf(errors.New("dependency missing"), "it needed the result of step %d, which did not run", n)
			return res
		}
		if ap.askFlow[i][n] {
			d, err := hb.gate.Check(ctx, t.c, t.req(chat.KindCollab, src.app, sp.ID, st.Function, src.text, false,
				fmt.Sprintf("the plan passes the result of %s to %s", src.app, sp.ID)))
			if err != nil || !d.Allows() {
				res.denied, res.err = true, err
				return res
			}
		} else if !ap.flow[i][n] {
			res.denied = true
			return res
		}
		hb.audit(ctx, state.AuditEvent{User: t.user, Type: "flow", Kind: chat.KindCollab, App: sp.ID, Requester: src.app, Detail: truncate(src.text, 2000)})
	}
	// Only the referenced steps' results are read: they are in this step's
	// group and done; other groups may still be writing theirs.
	texts := make([]string, len(results))
	typed := make([]plan.Result, len(results))
	for _, n := range st.Refs() {
		texts[n-1] = results[n-1].text
		typed[n-1] = plan.Result{JSON: results[n-1].json, Text: results[n-1].text}
	}
	task := isc.Task{Instruction: plan.Substitute(st.Instruction, texts, false), Function: st.Function}
	if len(st.Args) > 0 {
		args, err := plan.SubstituteArgs(st.Args, typed)
		if err != nil {
			res.err = publicf(err, "its arguments could not be filled in")
			return res
		}
		task.Args = args
	}
	if !st.hasFn && strings.TrimSpace(task.Instruction) == "" {
		task.Instruction = t.query
	}
	// Remembered facts reach an app only as approved; without approval the
	// step is planned again with the facts hidden from the planner.
	if len(st.shared) > 0 {
		allowed := ap.data[i]
		if ap.askData[i] {
			d, err := hb.gate.Check(ctx, t.c, t.req(chat.KindData, "", sp.ID, st.Function, formatFacts(st.shared), false,
				"remembered from an earlier conversation; you did not mention it in this message"))
			if err != nil {
				res.err = err
				return res
			}
			allowed = d.Allows()
		}
		if !allowed {
			var err error
			if task, err = t.withoutFacts(ctx, sp.ID, st.shared); err != nil {
				res.err = err
				return res
			}
		} else {
			hb.audit(ctx, state.AuditEvent{User: t.user, Type: "flow", Kind: chat.KindData, App: sp.ID, Detail: formatFacts(st.shared)})
		}
	}
	if st.hasFn {
		sc, err := hb.compile(st.fn.Request)
		if err == nil {
			err = sc.Validate(task.Args)
		}
		switch {
		case err == nil && !st.fn.NeedsModel:
			task.Direct = true
		case err != nil && len(st.Refs()) == 0:
			res.err = publicf(err, "its arguments did not match %s's request schema", task.Function)
			return res
		case err != nil && st.effect.Risky():
			// A model filling a send or destroy call inside the spoke would
			// act before the user saw the concrete arguments.
			res.err = publicf(err, "it would %s, and the result it was given did not fit its arguments, so it was not run", st.effect)
			return res
		default:
			// An earlier result did not fit the arguments as it is (a
			// search's hits where an ID is wanted): the app's own model
			// fills them from its task, and the function's result is the
			// step's answer.
			task.ResultOnly = true
		}
	}
	if ap.askExec[i] {
		r := t.req(chat.KindExec, "", sp.ID, st.Function, describeTask(task), false, "the plan for your message uses this app")
		r.Effect = string(st.effect)
		d, err := hb.gate.Check(ctx, t.c, r)
		if err != nil || !d.Allows() {
			hb.dropWarm(ctx, t.user, sp.ID, "exec denied")
			res.denied, res.err = true, err
			return res
		}
	}
	if st.confirms() && task.Direct && !ap.askExec[i] {
		if ok, err := t.confirm(ctx, steps, i, task); !ok {
			hb.dropWarm(ctx, t.user, sp.ID, "exec denied")
			res.denied = true
			res.err = err
			return res
		}
	}
	hb.trace(TraceEvent{User: t.user, App: sp.ID, Type: "step_run", Step: i + 1})
	if task.Direct {
		hb.trace(TraceEvent{User: t.user, App: sp.ID, Type: "direct_call", Step: i + 1, Detail: task.Function + " " + compact(task.Args)})
	}
	inv := &invocation{turn: t, app: st.app, task: task}
	fin, err := hb.invoke(ctx, inv)
	if err != nil {
		res.err = err
		return res
	}
	res.text, res.direct = fin.Text, task.Direct
	res.json = fin.Result
	if len(res.json) == 0 || st.hasFn && st.fn.TextResult {
		// An envelope around text (an MCP result) flows on as its text.
		res.json, _ = json.Marshal(fin.Text)
	}
	return res
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
		Target: st.spec.ID, Function: st.Function, Effect: string(st.effect), Confirm: true, Data: "Arguments: " + string(task.Args),
		Reason: "its arguments were filled from another app's result; these are the values it will use"})
	return err == nil && d.Allows(), err
}

// respond writes the reply. A responder (one model call with the question
// and the approved results, and no tools) writes it when the plan has more
// than one step or its one result is structured data; a one-step plan whose
// result is already an answer is shown as the app gave it. Steps that did
// not run are listed under the reply. The reply names the apps it drew on.
func (t *turn) respond(ctx context.Context, steps []step, results []stepResult) (string, []ids.AppID) {
	var ok []respond.Result
	var drew []string
	seen := map[ids.AppID]bool{}
	for i, r := range results {
		if r.err != nil || r.denied {
			continue
		}
		ok = append(ok, respond.Result{Step: i + 1, App: string(r.app), Function: steps[i].Function, Args: steps[i].Args, Result: r.text})
		if !seen[r.app] {
			seen[r.app] = true
			drew = append(drew, string(r.app))
		}
	}
	if len(ok) == 0 || (len(results) == 1 && isAnswer(results[0])) {
		return compose(results)
	}
	text, err := t.responder(ctx, ok)
	if err != nil {
		t.h.log.Warn("responder failed; replying with the results as they are", "err", err)
		return compose(results)
	}
	var b strings.Builder
	b.WriteString(text)
	var denied []ids.AppID
	dseen := map[ids.AppID]bool{}
	for i, r := range results {
		switch {
		case r.denied:
			fmt.Fprintf(&b, "\n\n**%s**: not run: you denied permission (step %d).", r.app, i+1)
			if !dseen[r.app] {
				dseen[r.app] = true
				denied = append(denied, r.app)
			}
		case r.err != nil:
			fmt.Fprintf(&b, "\n\n**%s**: failed: %s (step %d).", r.app, publicMessage(r.err), i+1)
		}
	}
	fmt.Fprintf(&b, "\n\n_Drew on: %s._", strings.Join(drew, ", "))
	return b.String(), denied
}

// isAnswer reports whether a step's result can be shown as the reply: the
// app's own model wrote it, or it is a short plain value (a number, or a
// one-line string of at most maxPlainAnswer bytes: a city, a fare). A list
// or a long text (a mailbox listing) needs the responder to answer from it.
func isAnswer(r stepResult) bool {
	if r.err != nil || r.denied || !r.direct {
		return true
	}
	b := bytes.TrimSpace(r.json)
	if len(b) == 0 || b[0] == '{' || b[0] == '[' {
		return false
	}
	var s string
	if json.Unmarshal(b, &s) != nil {
		return true // a number or a boolean
	}
	return len(s) <= maxPlainAnswer && !strings.Contains(strings.TrimSpace(s), "\n")
}

// maxPlainAnswer bounds a one-step result shown without the responder.
const maxPlainAnswer = 280

// responder makes the one model call that writes the reply. Its context
// holds the question and the approved results and offers no tools; a tool
// call in its answer is ignored (and audited), so an instruction injected
// into a result can change the wording of the reply and nothing else.
func (t *turn) responder(ctx context.Context, results []respond.Result) (string, error) {
	req, err := respond.Request(t.query, results)
	if err != nil {
		return "", err
	}
	h := t.h
	h.trace(TraceEvent{User: t.user, Type: "responder_request", Request: req})
	m := h.o.ResponderModel
	if m == nil {
		m = h.o.Model
	}
	resp, err := t.generateReply(ctx, m, req)
	if err != nil {
		return "", fmt.Errorf("responder: %w", err)
	}
	if len(resp.ToolCalls) > 0 {
		var names []string
		for _, c := range resp.ToolCalls {
			names = append(names, c.Name)
		}
		h.audit(ctx, state.AuditEvent{User: t.user, Type: "responder_tool_call_ignored", Detail: truncate(strings.Join(names, ", "), 500)})
	}
	if strings.TrimSpace(resp.Content) == "" {
		return "", errors.New("responder: empty answer")
	}
	return resp.Content, nil
}

// generateReply makes the responder's model call, streaming its text into
// the conversation when both the model and the conversation can. The
// reply shown in the end is the returned Content (with what respond adds),
// never the pieces: a call that fails after some pieces leaves them to be
// replaced by the fallback reply.
func (t *turn) generateReply(ctx context.Context, m llm.Model, req *llm.Request) (*llm.Response, error) {
	sm, ok := m.(llm.StreamingModel)
	if !ok || !t.out.streams() {
		return m.Generate(ctx, req)
	}
	resp, err := sm.GenerateStream(ctx, req, t.out.piece)
	if err != nil {
		t.out.restart()
	}
	return resp, err
}

// compose builds the reply from the steps' results as the apps gave them,
// each under its app's name.
func compose(results []stepResult) (string, []ids.AppID) {
	var b strings.Builder
	var denied []ids.AppID
	seen := map[ids.AppID]bool{}
	for i, r := range results {
		if i > 0 {
			b.WriteString("\n\n")
		}
		var body string
		switch {
		case r.denied:
			body = "not run: you denied permission."
			if !seen[r.app] {
				denied = append(denied, r.app)
				seen[r.app] = true
			}
		case r.err != nil:
			body = "failed: " + publicMessage(r.err) + "."
		default:
			body = r.text
		}
		if len(results) == 1 && !r.denied && r.err == nil {
			b.WriteString(body)
			continue
		}
		fmt.Fprintf(&b, "**%s**: %s", r.app, body)
	}
	return b.String(), denied
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
func (t *turn) withoutFacts(ctx context.Context, app ids.AppID, withheld map[string]string) (isc.Task, error) {
	p, err := t.plan(ctx, nil, map[ids.AppID]bool{app: true})
	if err != nil {
		return isc.Task{}, err
	}
	var ns *plan.Step
	for i := range p.Steps {
		if p.Steps[i].App == string(app) && len(p.Steps[i].Refs()) == 0 {
			ns = &p.Steps[i]
			break
		}
	}
	if ns == nil {
		return isc.Task{}, publicf(errors.New("replan dropped the step"), "without the data you withheld there was no plan for %s", app)
	}
	task := isc.Task{Instruction: ns.Instruction, Function: ns.Function, Args: ns.Args}
	if left := t.rememberedIn(task, withheld); len(left) > 0 {
		return isc.Task{}, publicf(errors.New("withheld data still in plan"), "the model kept using data you withheld, so %s was not run", app)
	}
	return task, nil
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
	if err := t.h.o.Store.PutEntities(ctx, t.user, facts); err != nil {
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

func describeTask(t isc.Task) string {
	s := "Instruction: " + t.Instruction
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
