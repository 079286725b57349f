package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/schema"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// Bounds on what one spoke may ask of the hub.
const (
	maxNesting       = 2   // app → app → app
	maxFramesPerRun  = 400 // requests one spoke may send
	maxMemoryRead    = 50
	maxMemoryWrite   = 10
	maxMemoryContent = 8 << 10
	maxStateKey      = 128
	maxStateValue    = 256 << 10
	maxModelMessages = 200
	maxModelTools    = 128
)

// invocation is one run of one app in one spoke. Its identity on the ISC
// connection is this struct: nothing the spoke writes can change it.
type invocation struct {
	turn  *turn
	app   apps.App
	task  isc.Task
	depth int
	// caller is the app that asked for this invocation through the hub, or "".
	caller ids.AppID
	// cred is the user's linked-account token for this invocation only.
	cred *isc.Credential
	// warm: the spoke is kept for the next invocation of the same user
	// and app (warm.go).
	warm bool
	// elicits counts the app's questions to the user (elicit.go).
	elicits int
	// lease, for a plan step whose app's model fills the call, is what the
	// monitor lets that model do (monitor.go); nil otherwise.
	lease *lease
	// label is what the invocation's inputs derive from, its own app
	// included; what its calls of other apps return is added to it.
	label *label
}

// invoke runs inv in a fresh spoke and returns its final answer.
func (h *Hub) invoke(ctx context.Context, inv *invocation) (isc.Final, error) {
	sp := inv.app.Spec()
	cred, err := h.credential(ctx, inv.turn, sp.ID)
	if err != nil {
		return isc.Final{}, err
	}
	inv.cred = cred
	spec := SpokeSpec{App: sp.ID, User: inv.turn.user, Timeout: h.o.SpokeTimeout, Domains: sp.Domains, Ports: sp.Ports, AllowExec: sp.External, Limits: h.o.Limits}
	if err := h.spokePolicy(ctx, &spec); err != nil {
		h.log.Error("spoke policy", "app", sp.ID, "err", err)
		return isc.Final{}, publicf(err, "app %s could not be started", sp.ID)
	}
	// An external app's spoke (an MCP server's) may be kept warm for the
	// user's next invocation of it (warm.go).
	spawner := h.spawner
	if h.warmable(sp.External) {
		spawner = h.warm
	}
	proc, err := spawner.Start(ctx, spec)
	inv.turn.spokeStarted()
	if err != nil {
		h.log.Error("start spoke", "app", sp.ID, "err", err)
		return isc.Final{}, publicf(err, "app %s could not be started", sp.ID)
	}
	lease, warm := proc.(*warmLease)
	var conn *isc.Conn
	if warm {
		conn = lease.ws.conn
	} else {
		conn = isc.NewConn(proc.Conn(), isc.HubSide, h.o.MaxFrame)
	}
	if warm && lease.reused {
		// What the spoke's process kept from the invocations it served is
		// this invocation's input too.
		inv.absorb(lease.ws.held)
		h.trace(TraceEvent{User: inv.turn.user, App: sp.ID, Type: vocab.TraceSpokeReuse, Detail: strconv.Itoa(proc.PID()), PID: proc.PID()})
	}
	inv.turn.status(ctx, "Running app "+string(sp.ID)+"…")
	stop := context.AfterFunc(ctx, func() { proc.Kill("request cancelled") })
	defer stop()
	inv.warm = warm
	fin, serr := h.serve(ctx, inv, conn)
	if serr != nil {
		return isc.Final{}, h.spokeFailed(ctx, inv, proc, serr)
	}
	switch {
	case warm && stop():
		// Kept for the user's next invocation of the app, holding what
		// this one had.
		lease.release(inv.inputs())
	case warm:
		// The request was cancelled as the answer came in: the spoke has
		// been killed (and leaves the table as it ends), the answer
		// stands.
	default:
		// The answer is in; the spoke has nothing left to do. Tearing down
		// its namespaces takes the kernel a few milliseconds, so the reply
		// does not wait for it.
		stop()
		proc.Kill("done")
		go func() {
			_ = proc.Wait()
			h.trace(TraceEvent{User: inv.turn.user, App: sp.ID, Type: vocab.TraceSpokeEnd, PID: proc.PID()})
		}()
	}
	return fin, nil
}

// tracedSpawner is the hub's own spawner (Hub.spawner): Options.Spawner,
// with each spoke traced ("spoke_start") as soon as it has started, before
// anything (the warm table) may end it.
type tracedSpawner struct {
	h    *Hub
	next Spawner
}

func (t tracedSpawner) Start(ctx context.Context, spec SpokeSpec) (Spoke, error) {
	s, err := t.next.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	t.h.trace(TraceEvent{User: spec.User, App: spec.App, Type: vocab.TraceSpokeStart, Detail: strconv.Itoa(s.PID()), PID: s.PID()})
	return s, nil
}

// spokeFailed kills a spoke whose invocation ended without an answer and
// returns the error its caller may see.
func (h *Hub) spokeFailed(ctx context.Context, inv *invocation, proc Spoke, serr error) error {
	sp := inv.app.Spec()
	// The kill reason is the hub's own words: it is shown to whoever
	// started this invocation, and that may be another app.
	proc.Kill(publicReason(serr, ""))
	werr := proc.Wait()
	reason := proc.KillReason()
	h.trace(TraceEvent{User: inv.turn.user, App: sp.ID, Type: vocab.TraceSpokeEnd, Detail: reason, PID: proc.PID()})
	h.log.Warn("spoke ended", "app", sp.ID, "pid", proc.PID(), "reason", reason, "err", serr, "exit", werr)
	h.audit(ctx, state.AuditEvent{User: inv.turn.user, Type: vocab.AuditSpokeKilled, App: sp.ID, Requester: inv.caller, Detail: reason + " (" + serr.Error() + ")"})
	msg := fmt.Sprintf("app %s failed (%s)", sp.ID, publicReason(serr, reason))
	// The app's own message is its output: its user may read it when the
	// app ran as a plan step, as they read its answer; an app that called
	// it gets only the hub's words.
	if am := appMessage(serr); am != "" && inv.caller == "" {
		msg += ": " + strings.TrimRight(truncate(am, 300), ".")
	}
	return publicf(serr, "%s", msg)
}

// serve runs the hub's side of the ISC conversation with one spoke.
func (h *Hub) serve(ctx context.Context, inv *invocation, conn *isc.Conn) (isc.Final, error) {
	sp := inv.app.Spec()
	f, err := conn.Recv()
	if err != nil {
		return isc.Final{}, spokeErr("protocol: no ready frame", err)
	}
	if f.Kind != isc.KindReady {
		return isc.Final{}, publicf(fmt.Errorf("first frame %q", f.Kind), "protocol: first frame is not ready")
	}
	var others []string
	for _, fn := range h.o.Catalog.Functions() {
		// A model under a lease is offered only the approved function.
		if _, own := sp.Function(fn); !own && inv.lease == nil {
			others = append(others, fn)
		}
	}
	init := isc.Init{App: string(sp.ID), Task: inv.task, Others: others, Config: h.o.AppConfig[sp.ID], MaxSteps: h.o.MaxSpokeSteps, Credential: inv.cred, Warm: inv.warm}
	if err := conn.Send(isc.KindInit, init); err != nil {
		return isc.Final{}, spokeErr("send init", err)
	}
	r := &spokeRun{inv: inv}
	for frames := 0; ; frames++ {
		if frames >= maxFramesPerRun {
			return isc.Final{}, spokeErrorf("flooding: more than %d requests", maxFramesPerRun)
		}
		f, err := conn.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return isc.Final{}, spokeErrorf("exited without a final response")
			}
			return isc.Final{}, spokeErr("protocol", err)
		}
		handle, ok := h.frames[f.Kind]
		if !ok {
			return isc.Final{}, publicf(errors.New(string(f.Kind)), "protocol: unexpected frame kind")
		}
		a, err := handle(ctx, r, f)
		switch {
		case err != nil:
			return isc.Final{}, err
		case a.final != nil:
			return *a.final, nil
		case a.kind == "":
			continue
		}
		if err := conn.Send(a.kind, a.body); err != nil {
			return isc.Final{}, spokeErr("send "+string(a.kind), err)
		}
	}
}

// checkFinal validates a spoke's structured result against its response
// schema; a text-only answer is checked as the result when the schema is a
// string schema.
func (h *Hub) checkFinal(sp apps.Spec, fn string, fin *isc.Final) error {
	if len(fin.Text) > 64<<10 {
		return spokeErrorf("final answer too long")
	}
	if fn == "" || len(fin.Result) == 0 {
		return nil
	}
	f, ok := sp.Function(fn)
	if !ok {
		return nil
	}
	sc, err := h.compile(f.Response)
	if err != nil {
		return err
	}
	if err := sc.Validate(fin.Result); errors.Is(err, schema.ErrTooCostly) {
		return publicf(err, "its result was too costly to validate")
	} else if err != nil {
		// The validator's message quotes the offending value, which is
		// the app's output: log it, never pass it on.
		return publicf(err, "its result did not match %s's response schema", fn)
	}
	return nil
}

// appRequest serves a spoke's call of another app: the user is asked (the
// call was not in the plan), the callee runs in its own spoke, its answer is
// validated against its response schema, and the user is asked again before
// the answer goes back to the caller.
func (h *Hub) appRequest(ctx context.Context, inv *invocation, r isc.AppRequest) (isc.Kind, any, error) {
	t := inv.turn
	caller := inv.app.Spec().ID
	callee, fn, ok := h.o.Catalog.ByFunction(r.Function)
	if !ok {
		return isc.KindNoSuch, isc.NoSuch{Function: r.Function}, nil
	}
	cs := callee.Spec()
	if cs.ID == caller {
		return isc.KindHubError, isc.ErrorBody{Message: "call your own functions directly"}, nil
	}
	h.trace(TraceEvent{User: t.user, App: caller, Type: vocab.TraceAppRequest, Detail: r.Function + " " + truncate(string(r.Args), 500)})
	if inv.lease != nil && inv.lease.once {
		// A step whose model fills one approved call was offered no other
		// app: a request for one comes from the spoke's own code.
		h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditMonitorRefused, Kind: chat.KindCollab, App: cs.ID, Requester: caller,
			Detail: truncate(fmt.Sprintf("%s asked for %s during %s, which approved only %s", caller, r.Function, inv.lease.what(), inv.lease.fn.Name), 2000)})
		return isc.KindDenial, isc.Denial{Reason: "this step may call only " + inv.lease.fn.Name}, nil
	}
	if inv.depth+1 > maxNesting {
		return isc.KindDenial, isc.Denial{Reason: "calls between apps are nested too deeply"}, nil
	}
	sc, err := h.compile(fn.Request)
	if err != nil {
		return isc.KindHubError, isc.ErrorBody{Message: "callee schema unavailable"}, nil
	}
	if err := sc.Validate(r.Args); err != nil {
		return isc.KindHubError, isc.ErrorBody{Message: "arguments do not match " + fn.Name + "'s request schema: " + err.Error()}, nil
	}
	d, err := h.gate.Check(ctx, t.c, t.req(chat.KindCollab, caller, cs.ID, fn.Name, string(r.Args), true,
		fmt.Sprintf("%s asked to use %s while working on your request", caller, cs.ID)))
	if err != nil || !d.Allows() {
		h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditBlockedFlow, Kind: chat.KindCollab, App: cs.ID, Requester: caller, Detail: truncate(string(r.Args), 2000)})
		return isc.KindDenial, isc.Denial{Reason: "the user denied " + string(caller) + " the use of " + string(cs.ID)}, nil
	}
	if !h.sourcesReach(ctx, inv, inv.inputs(), caller, cs.ID, fn.Name, string(r.Args)) {
		return isc.KindDenial, isc.Denial{Reason: "the user denied passing what " + string(caller) + " holds to " + string(cs.ID)}, nil
	}
	d, err = h.gate.Check(ctx, t.c, t.execRequest(callee, fn.Name, r.Args, "Function: "+fn.Name+"\nArguments: "+string(r.Args)+effectNote(callee, fn.Name), true,
		fmt.Sprintf("%s asked to run it", caller)))
	if err != nil || !d.Allows() {
		h.dropWarm(ctx, t.user, cs.ID, "exec denied")
		return isc.KindDenial, isc.Denial{Reason: "the user denied running " + string(cs.ID)}, nil
	}
	if err := h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditFlow, Kind: chat.KindCollab, App: cs.ID, Requester: caller, Detail: truncate(string(r.Args), 2000)}); err != nil {
		return isc.KindDenial, isc.Denial{Reason: "the call of " + string(cs.ID) + " could not be audited"}, nil
	}
	sub := &invocation{turn: t, app: callee, depth: inv.depth + 1, caller: caller,
		task: isc.Task{Instruction: isc.CallInstruction(fn.Name, string(caller)), Function: fn.Name, Args: r.Args}}
	// The prompt showed exactly this call: the callee's model may make it
	// and nothing else.
	sub.lease = newLease(0, fn, r.Args, false)
	sl := inv.inputs()
	sl.add(newLabel(cs.ID, nil))
	sub.label = &sl
	fin, err := h.invoke(ctx, sub)
	if err != nil {
		return isc.KindHubError, isc.ErrorBody{Message: publicMessage(err)}, nil
	}
	result := fin.Result
	if len(result) == 0 {
		result, _ = json.Marshal(fin.Text)
		if rs, err := h.compile(fn.Response); err == nil {
			if err := rs.Validate(result); err != nil {
				return isc.KindHubError, isc.ErrorBody{Message: "the answer of " + fn.Name + " did not match its response schema"}, nil
			}
		}
	}
	d, err = h.gate.Check(ctx, t.c, t.req(chat.KindCollab, cs.ID, caller, "", string(result), true,
		fmt.Sprintf("the answer of %s would go back to %s", cs.ID, caller)))
	if err != nil || !d.Allows() {
		h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditBlockedFlow, Kind: chat.KindCollab, App: caller, Requester: cs.ID, Detail: truncate(string(result), 2000)})
		return isc.KindDenial, isc.Denial{Reason: "the user denied passing the answer of " + string(cs.ID) + " to " + string(caller)}, nil
	}
	// What the callee's own calls returned went into its answer too.
	nested := newLabel("", nil)
	for _, a := range sl.sources(cs.ID, caller) {
		if !inv.inputs().apps[a] {
			nested.apps[a] = true
		}
	}
	if !h.sourcesReach(ctx, inv, nested, cs.ID, caller, "", string(result)) {
		return isc.KindDenial, isc.Denial{Reason: "the user denied passing the answer of " + string(cs.ID) + " to " + string(caller)}, nil
	}
	if err := h.audit(ctx, state.AuditEvent{User: t.user, Type: vocab.AuditFlow, Kind: chat.KindCollab, App: caller, Requester: cs.ID, Detail: truncate(string(result), 2000)}); err != nil {
		return isc.KindDenial, isc.Denial{Reason: "the answer of " + string(cs.ID) + " could not be audited"}, nil
	}
	if inv.label == nil {
		l := inv.inputs()
		inv.label = &l
	}
	inv.label.add(sl)
	return isc.KindAppResponse, isc.AppResponse{Function: fn.Name, Result: result}, nil
}
