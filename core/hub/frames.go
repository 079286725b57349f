package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/public"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// spokeRun is what the hub keeps about one spoke connection while serve
// runs it. The invocation is the spoke's identity: nothing the spoke
// writes can change it.
type spokeRun struct {
	inv        *invocation
	modelCalls int
}

// answer is what a frame handler decided about one frame.
type answer struct {
	// kind and body are the frame sent back; kind "" sends nothing (the
	// spoke expects no answer to a log or progress frame).
	kind isc.Kind
	body any
	// final, when set, ends the conversation: the spoke's work is done.
	final *isc.Final
}

func reply(k isc.Kind, body any) answer { return answer{kind: k, body: body} }

// hubError answers with a hub_error frame. msg is the hub's own words (or
// a schema message about the spoke's own arguments): it goes back to the
// spoke that sent the frame and nowhere else.
func hubError(msg string) answer { return reply(isc.KindHubError, isc.ErrorBody{Message: msg}) }

// frameHandler serves one kind of frame from a spoke. A returned error
// ends the spoke (errors.go says what its parts may quote); answers the
// spoke can act on (denials, errors in its arguments) are frames.
type frameHandler func(ctx context.Context, r *spokeRun, f isc.Frame) (answer, error)

// frameHandlers is the hub's table of frame kinds a spoke may send after
// its ready frame. A kind missing here ends the spoke with "protocol:
// unexpected frame kind".
func (h *Hub) frameHandlers() map[isc.Kind]frameHandler {
	return map[isc.Kind]frameHandler{
		isc.KindReady:        h.onReadyAgain,
		isc.KindFinal:        h.onFinal,
		isc.KindSpokeError:   h.onSpokeError,
		isc.KindLog:          h.onLog,
		isc.KindProgress:     h.onProgress,
		isc.KindModelRequest: h.onModelRequest,
		isc.KindProbe:        h.onProbe,
		isc.KindAppRequest:   h.onAppRequest,
		isc.KindMemoryRead:   h.onMemoryRead,
		isc.KindMemoryWrite:  h.onMemoryWrite,
		isc.KindStateGet:     h.onStateGet,
		isc.KindStatePut:     h.onStatePut,
		isc.KindElicit:       h.onElicit,
	}
}

func (h *Hub) onReadyAgain(context.Context, *spokeRun, isc.Frame) (answer, error) {
	return answer{}, spokeErrorf("protocol: ready sent twice")
}

// onFinal accepts the spoke's answer once it fits the function's response
// schema.
func (h *Hub) onFinal(_ context.Context, r *spokeRun, f isc.Frame) (answer, error) {
	var fin isc.Final
	if err := f.Decode(&fin); err != nil {
		return answer{}, spokeErr("protocol: final", err)
	}
	if err := h.checkFinal(r.inv.app.Spec(), r.inv.task.Function, &fin); err != nil {
		return answer{}, err
	}
	if l := r.inv.lease; l != nil && l.once && l.calls == 0 {
		return answer{}, spokeErrorf("its model answered without the call of %s the plan approved", l.fn.Name)
	}
	return answer{final: &fin}, nil
}

// onSpokeError ends the spoke with the app's own message, kept apart from
// the hub's reason (errors.go).
func (h *Hub) onSpokeError(_ context.Context, _ *spokeRun, f isc.Frame) (answer, error) {
	var e isc.ErrorBody
	_ = f.Decode(&e)
	return answer{}, public.FromApp(errors.New(truncate(e.Message, 300)), e.Message, "the app reported an error")
}

func (h *Hub) onLog(_ context.Context, r *spokeRun, f isc.Frame) (answer, error) {
	var l isc.Log
	if f.Decode(&l) == nil {
		h.log.Debug("spoke log", "app", r.inv.app.Spec().ID, "msg", truncate(l.Message, 500))
	}
	return answer{}, nil
}

func (h *Hub) onProgress(ctx context.Context, r *spokeRun, f isc.Frame) (answer, error) {
	h.progress(ctx, r.inv, f)
	return answer{}, nil
}

// onModelRequest answers a spoke's model call with the spoke model; the
// count is bounded before the body is even decoded.
func (h *Hub) onModelRequest(ctx context.Context, r *spokeRun, f isc.Frame) (answer, error) {
	r.modelCalls++
	if r.modelCalls > h.o.MaxSpokeSteps*2 {
		return answer{}, spokeErrorf("too many model calls (more than %d)", h.o.MaxSpokeSteps*2)
	}
	var req llm.Request
	if err := f.Decode(&req); err != nil {
		return answer{}, spokeErr("protocol: model request", err)
	}
	if len(req.Messages) == 0 || len(req.Messages) > maxModelMessages || len(req.Tools) > maxModelTools {
		return hubError("model request out of bounds"), nil
	}
	sp := r.inv.app.Spec()
	if r.inv.lease != nil {
		r.inv.lease.offer(&req)
	}
	h.trace(TraceEvent{User: r.inv.turn.user, App: sp.ID, Type: vocab.TraceModelRequest, Request: &req})
	resp, err := h.o.SpokeModel.Generate(ctx, &req)
	if err != nil {
		h.log.Warn("spoke model call", "app", sp.ID, "err", err)
		return hubError("model call failed"), nil
	}
	if msg := h.modelAnswer(ctx, r.inv, resp); msg != "" {
		return hubError(msg), nil
	}
	return reply(isc.KindModelResponse, resp), nil
}

// onProbe tells a spoke another app's function schema; its own functions
// and unknown ones are "no such functionality".
func (h *Hub) onProbe(ctx context.Context, r *spokeRun, f isc.Frame) (answer, error) {
	var p isc.Probe
	if err := f.Decode(&p); err != nil {
		return answer{}, spokeErr("protocol: probe", err)
	}
	sp := r.inv.app.Spec()
	a, fn, ok := h.o.Catalog.ByFunction(p.Function)
	if !ok || a.Spec().ID == sp.ID {
		return reply(isc.KindNoSuch, isc.NoSuch(p)), nil
	}
	h.audit(ctx, state.AuditEvent{User: r.inv.turn.user, Type: vocab.AuditProbe, App: a.Spec().ID, Requester: sp.ID, Detail: p.Function})
	return reply(isc.KindProbeResponse, isc.ProbeResponse{Function: fn.Name, App: string(a.Spec().ID), Request: fn.Request}), nil
}

func (h *Hub) onAppRequest(ctx context.Context, r *spokeRun, f isc.Frame) (answer, error) {
	var req isc.AppRequest
	if err := f.Decode(&req); err != nil {
		return answer{}, spokeErr("protocol: app request", err)
	}
	k, body, err := h.appRequest(ctx, r.inv, req)
	return reply(k, body), err
}

// onMemoryRead returns the app's own memory for its user.
func (h *Hub) onMemoryRead(ctx context.Context, r *spokeRun, f isc.Frame) (answer, error) {
	var m isc.MemoryRead
	if err := f.Decode(&m); err != nil {
		return answer{}, spokeErr("protocol: memory read", err)
	}
	if m.Limit <= 0 || m.Limit > maxMemoryRead {
		m.Limit = maxMemoryRead
	}
	sp := r.inv.app.Spec()
	es, err := h.o.Store.ReadMemory(ctx, r.inv.turn.user, sp.ID, m.Limit)
	if err != nil {
		h.log.Error("read app memory", "app", sp.ID, "err", err)
		return hubError("memory unavailable"), nil
	}
	out := isc.Memory{Entries: []isc.MemoryEntry{}}
	var k kept
	for _, e := range es {
		out.Entries = append(out.Entries, isc.MemoryEntry{Role: e.Role, Content: e.Content})
		k.add(kept{sources: e.Sources, factKeys: e.FactKeys})
	}
	// What the app remembered derives from what it held then: the spoke
	// holds those sources again. Without its label the memory could carry
	// another app's data past a rule unseen: no label, no memory.
	l, err := h.resolve(ctx, r.inv.turn.user, k)
	if err != nil {
		h.log.Error("read app memory label", "app", sp.ID, "err", err)
		return hubError("memory unavailable"), nil
	}
	r.inv.absorb(l)
	return reply(isc.KindMemory, out), nil
}

// onMemoryWrite appends to the app's own memory for its user, within
// bounds.
func (h *Hub) onMemoryWrite(ctx context.Context, r *spokeRun, f isc.Frame) (answer, error) {
	var w isc.MemoryWrite
	if err := f.Decode(&w); err != nil {
		return answer{}, spokeErr("protocol: memory write", err)
	}
	if len(w.Entries) > maxMemoryWrite {
		return hubError("too many memory entries"), nil
	}
	sp := r.inv.app.Spec()
	held := r.inv.inputs().keep(sp.ID)
	var es []state.MemoryEntry
	for _, e := range w.Entries {
		if e.Role != "user" && e.Role != "assistant" {
			return hubError("memory role must be user or assistant"), nil
		}
		es = append(es, state.MemoryEntry{Role: e.Role, Content: truncate(e.Content, maxMemoryContent), At: h.o.Now(),
			Sources: held.sources, FactKeys: held.factKeys})
	}
	err := r.inv.turn.running.keep(func() error { return h.o.Store.AppendMemory(ctx, r.inv.turn.user, sp.ID, es...) })
	if errors.Is(err, errForgotten) {
		return hubError(forgottenError), nil
	}
	if err != nil {
		h.log.Error("append app memory", "app", sp.ID, "err", err)
		return hubError("memory unavailable"), nil
	}
	return reply(isc.KindOK, struct{}{}), nil
}

// onStateGet reads one key of the app's own state namespace for its user.
func (h *Hub) onStateGet(ctx context.Context, r *spokeRun, f isc.Frame) (answer, error) {
	var g isc.StateGet
	if err := f.Decode(&g); err != nil {
		return answer{}, spokeErr("protocol: state get", err)
	}
	if g.Key == "" || len(g.Key) > maxStateKey {
		return hubError("bad state key"), nil
	}
	sp := r.inv.app.Spec()
	v, ok, err := h.o.Store.GetAppState(ctx, r.inv.turn.user, sp.Namespace(), g.Key)
	if err != nil {
		h.log.Error("read app state", "app", sp.ID, "err", err)
		return hubError("state unavailable"), nil
	}
	// Without its label the value could carry another app's data past a
	// rule unseen: no label, no value.
	l, err := h.stateLabel(ctx, r.inv.turn.user, sp.Namespace())
	if err != nil {
		h.log.Error("read app state label", "app", sp.ID, "err", err)
		return hubError("state unavailable"), nil
	}
	r.inv.absorb(l)
	return reply(isc.KindStateValue, isc.StateValue{Found: ok, Value: v}), nil
}

// onStatePut writes one key of the app's own state namespace for its
// user, within the (user, namespace) quota.
func (h *Hub) onStatePut(ctx context.Context, r *spokeRun, f isc.Frame) (answer, error) {
	var p isc.StatePut
	if err := f.Decode(&p); err != nil {
		return answer{}, spokeErr("protocol: state put", err)
	}
	if p.Key == "" || len(p.Key) > maxStateKey || len(p.Value) > maxStateValue || !json.Valid(p.Value) {
		return hubError("bad state key or value"), nil
	}
	sp, user := r.inv.app.Spec(), r.inv.turn.user
	// The label first: a value stored without it would lose its sources.
	// One union, atomic in the store: two spokes of the user writing the
	// namespace at once (on two replicas) both land.
	var labelled bool
	err := r.inv.turn.running.keep(func() error {
		if err := h.o.Store.AddAppStateSet(ctx, user, labelNamespace(sp.Namespace()), labelKey, r.inv.inputs().keep().members()...); err != nil {
			return err
		}
		labelled = true
		return h.o.Store.PutAppStateWithin(ctx, user, sp.Namespace(), p.Key, p.Value, h.o.StateQuota)
	})
	if errors.Is(err, errForgotten) {
		return hubError(forgottenError), nil
	}
	if err != nil && !labelled {
		h.log.Error("write app state label", "app", sp.ID, "err", err)
		return hubError("state unavailable"), nil
	}
	if errors.Is(err, state.ErrQuota) {
		h.log.Warn("app state quota", "app", sp.ID, "user", user, "err", err)
		return hubError(fmt.Sprintf(
			"state quota exceeded: namespace %s may hold %d keys and %d bytes (keys and values) per user; overwrite keys with smaller values (null) to make room",
			sp.Namespace(), h.o.StateQuota.Keys, h.o.StateQuota.Bytes)), nil
	}
	if err != nil {
		h.log.Error("write app state", "app", sp.ID, "err", err)
		return hubError("state unavailable"), nil
	}
	return reply(isc.KindOK, struct{}{}), nil
}

// forgottenError answers a spoke's write for a request a forget stopped.
const forgottenError = "the user asked to forget: nothing more is kept for this request"

// stateLabel reads the label of user's state namespace ns, as the
// user's facts are now (resolve).
func (h *Hub) stateLabel(ctx context.Context, user ids.UserID, ns string) (label, error) {
	k, err := h.stateKept(ctx, user, ns)
	if err != nil {
		return label{}, err
	}
	return h.resolve(ctx, user, k)
}

// stateKept reads the label of user's state namespace ns as kept: the
// apps, and the facts by key.
func (h *Hub) stateKept(ctx context.Context, user ids.UserID, ns string) (kept, error) {
	raw, ok, err := h.o.Store.GetAppState(ctx, user, labelNamespace(ns), labelKey)
	if err != nil || !ok {
		return kept{}, err
	}
	var members []string
	if err := json.Unmarshal(raw, &members); err != nil {
		return kept{}, fmt.Errorf("decode label of namespace %s: %w", ns, err)
	}
	k, err := keptFrom(members)
	if err != nil {
		return kept{}, fmt.Errorf("label of namespace %s: %w", ns, err)
	}
	return k, nil
}
