// Package hub is SecGPT's trusted hub: it takes a user's message from an
// adapter, plans with the hub's model, asks the permission gate, runs every
// app invocation in its own spoke process, serves the spokes' ISC requests
// (model calls, memory, app state, calls to other apps), and replies.
//
// The hub never lets one app's text reach another app or another user
// without a grant, and it never hands a spoke a key, a store address or
// another app's memory. Only cli/ wiring, evaluation/, core/hubtest, the
// wrappers of its spoke seam (ops/metrics, sandbox/hubspawn, apps/mcp's
// discovery) and tests import it. It does not import the sandbox: what a
// spoke needs is a SpokeSpec, and sandbox/hubspawn turns that into a
// sandbox policy (seam_test.go holds this).
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/gate"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/schema"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// TraceEvent is reported to Options.Trace; the evaluation uses it to see
// what reached which context.
type TraceEvent struct {
	User ids.UserID
	App  ids.AppID
	// Type says what happened; vocab's Trace constants say which other
	// fields each sets.
	Type    vocab.TraceType
	Request *llm.Request
	Detail  string
	// Step is the 1-based plan step of a TraceStepRun or TraceDirectCall event.
	Step int
	// PID is the spoke's process ID of a TraceSpokeStart, TraceSpokeEnd
	// or TraceSpokeReuse.
	PID int
}

// Options configure a Hub. Store, Catalog, Model and Spawner are required.
type Options struct {
	Store   state.Store
	Catalog *apps.Catalog
	// Model plans for the hub.
	Model llm.Model
	// SpokeModel answers the spokes' model calls; nil means Model.
	SpokeModel llm.Model
	// ResponderModel writes replies from approved results, in a context
	// with no tools; nil means Model.
	ResponderModel llm.Model
	// Rules are the operator's permission rules (config permissions.rules),
	// checked before stored grants and prompts.
	Rules   []gate.Rule
	Spawner Spawner
	// AppConfig is each app's own config section, handed to its spoke.
	AppConfig map[ids.AppID]json.RawMessage
	// UserData is users' data kept outside the store (MCP servers'
	// per-user directories), deleted by forget; nil: none.
	UserData UserData
	// Accounts links users' accounts (!connect google) and gives the apps
	// it allows a per-invocation credential; nil: no linking.
	Accounts Accounts
	// PromptTimeout: an unanswered permission prompt is denied after it.
	PromptTimeout time.Duration
	// SessionIdle: a session with no message for this long ends.
	SessionIdle time.Duration
	// SpokeTimeout is the wall-clock bound of one spoke.
	SpokeTimeout time.Duration
	// Limits bound each spoke's resources.
	Limits SpokeLimits
	// SpokePolicy, if set, adjusts what each invocation's spoke gets (files,
	// per-user data, per-app limits); see PolicyFunc.
	SpokePolicy PolicyFunc
	// WarmIdle keeps the spoke of an external app (an MCP server) warm
	// between invocations of the same user and app for this long; 0 starts
	// a spoke per invocation. See warm.go.
	WarmIdle time.Duration
	// MaxWarm bounds the warm spokes kept at once (0: DefaultMaxWarm).
	MaxWarm int
	// MaxSpokeSteps bounds each spoke's agent loop (model calls).
	MaxSpokeSteps int
	// MaxFrame caps ISC frames from spokes.
	MaxFrame int
	// StateQuota bounds each (user, app namespace) of app state; zero
	// fields take state.DefaultQuotaKeys and state.DefaultQuotaBytes.
	StateQuota state.Quota
	// Relay forwards permission answers between replicas (nil: one replica).
	Relay gate.Relay
	// UserEvents carries forgets, revokes, new sessions and denials to
	// the other replicas (nil: one replica).
	UserEvents UserEvents
	// ReplicaID names this replica; Liveness tells whether others still run.
	ReplicaID string
	Liveness  gate.Liveness
	// AuditRetry bounds how long an audit entry the store cannot take is
	// retried before the action it records is refused; 0 means
	// state.DefaultAuditRetry.
	AuditRetry time.Duration
	Logger     *slog.Logger
	Trace      func(TraceEvent)
	Now        func() time.Time
}

// Hub is the trusted hub. It implements chat.Assistant.
type Hub struct {
	o    Options
	gate *gate.Gate
	log  *slog.Logger

	// frames serves the spokes' frames by kind; built by New, then
	// only read.
	frames map[isc.Kind]frameHandler

	mu      sync.Mutex // guards schemas
	schemas map[string]*schema.Schema

	// spawner starts spokes: Options.Spawner, traced (tracedSpawner).
	spawner Spawner
	// warm wraps spawner for external apps' spokes; nil when
	// Options.WarmIdle is 0.
	warm *warmTable
	// running is the requests in progress, which a forget stops.
	running *running
}

// gateRequest is a permission question for the gate.
type gateRequest = gate.Request

// New returns a Hub.
func New(o Options) (*Hub, error) {
	switch {
	case o.Store == nil:
		return nil, fmt.Errorf("hub: no store")
	case o.Catalog == nil:
		return nil, fmt.Errorf("hub: no app catalog")
	case o.Model == nil:
		return nil, fmt.Errorf("hub: no model")
	case o.Spawner == nil:
		return nil, fmt.Errorf("hub: no spoke spawner")
	}
	if o.SpokeModel == nil {
		o.SpokeModel = o.Model
	}
	if o.SessionIdle <= 0 {
		o.SessionIdle = 30 * time.Minute
	}
	if o.SpokeTimeout <= 0 {
		o.SpokeTimeout = 180 * time.Second
	}
	if o.MaxSpokeSteps <= 0 {
		o.MaxSpokeSteps = 8
	}
	if o.StateQuota.Keys <= 0 {
		o.StateQuota.Keys = state.DefaultQuotaKeys
	}
	if o.StateQuota.Bytes <= 0 {
		o.StateQuota.Bytes = state.DefaultQuotaBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	h := &Hub{o: o, log: o.Logger, running: newRunning()}
	h.spawner = tracedSpawner{h: h, next: o.Spawner}
	h.frames = h.frameHandlers()
	if o.WarmIdle > 0 {
		h.warm = newWarmTable(h, h.spawner, o.WarmIdle, o.MaxWarm)
	}
	h.gate = gate.New(o.Store, gate.Options{Timeout: o.PromptTimeout, Relay: o.Relay,
		ReplicaID: o.ReplicaID, Liveness: o.Liveness, Now: o.Now, Logger: o.Logger, Rules: o.Rules,
		AuditRetry: o.AuditRetry, Unaudited: h.unaudited})
	return h, nil
}

// Run serves background work (relayed permission answers, other
// replicas' user events) until ctx ends.
func (h *Hub) Run(ctx context.Context) error {
	if h.o.UserEvents != nil {
		go func() {
			_ = h.o.UserEvents.SubscribeUserEvents(ctx, func(e state.UserEvent) { h.hear(ctx, e) })
		}()
	}
	return h.gate.Run(ctx)
}

// Answer delivers a permission answer from an adapter.
func (h *Hub) Answer(ctx context.Context, a chat.Answer) error { return h.gate.Answer(ctx, a) }

// Handle answers one message; see chat.Assistant.
func (h *Hub) Handle(ctx context.Context, m chat.Message, c chat.Conversation) {
	// Everything shown from here on (replies, prompts, status) may carry
	// app- or model-written text: neutralise it once, for every adapter.
	c = chat.Neutral(c)
	text := strings.TrimSpace(m.Text)
	if text == "" {
		return
	}
	if m.EventID != "" {
		first, err := h.o.Store.FirstSeen(ctx, "event:"+m.User.Platform()+":"+m.EventID, 24*time.Hour)
		if err != nil {
			h.log.Error("dedup event", "event", m.EventID, "err", err)
			h.reply(ctx, c, "Sorry, I can't reach my state store right now; please try again in a moment.")
			return
		}
		if !first {
			h.log.Debug("duplicate event dropped", "event", m.EventID)
			return
		}
	}
	sess, err := h.o.Store.TouchSession(ctx, m.User, m.Conversation, h.o.SessionIdle, h.o.Now())
	if err != nil {
		h.log.Error("touch session", "user", m.User, "err", err)
		h.reply(ctx, c, "Sorry, I can't reach my state store right now; please try again in a moment.")
		return
	}
	t := &turn{h: h, user: m.User, conv: m.Conversation, session: sess.ID, c: c, query: text, out: &replyOut{c: c}}
	if reply, ok := h.command(ctx, t, m.Threads); ok {
		if t.answered != nil {
			defer t.answered()
		}
		h.reply(ctx, c, reply)
		return
	}
	if reply, ok := h.introduction(t.query); ok {
		h.reply(ctx, c, reply)
		return
	}
	// Any message answers a pending replan question: a yes runs it, a no
	// or anything else drops it.
	rp, pending, err := h.o.Store.TakeReplan(ctx, m.User, m.Conversation)
	if err != nil {
		h.log.Error("take replan", "user", m.User, "err", err)
	}
	if pending {
		switch strings.ToLower(strings.Trim(text, " .!")) {
		case "yes", "y", "ok", "sure", "replan", "try again":
			t.query = rp.Query
			t.exclude = map[ids.AppID]bool{}
			for _, a := range rp.Exclude {
				t.exclude[a] = true
			}
		case "no", "n", "cancel":
			h.reply(ctx, c, "OK, I won't try another plan.")
			return
		}
	}
	if sc, ok := c.(chat.StatusConversation); ok {
		_ = sc.Status(ctx, "Working on it…")
		defer func() { _ = sc.Status(context.WithoutCancel(ctx), "") }()
	}
	// The request runs as one a forget can stop, until its replan question
	// is stored: a forget that comes later deletes that too.
	req, end := h.running.start(ctx, t.user)
	t.running = req
	rctx := req.ctx
	h.trace(TraceEvent{User: t.user, Type: vocab.TraceRequestStart})
	reply, denied := t.run(rctx)
	if stopped(rctx) {
		reply, denied = stoppedReply, nil
	}
	if len(denied) > 0 {
		reply += h.askReplan(rctx, t, denied)
	}
	end()
	// The responder may have streamed its part already; finishing shows
	// the whole reply, exactly as one Reply would.
	if err := t.out.finish(ctx, reply); err != nil {
		h.log.Error("post reply", "err", err)
	}
}

// askReplan stores the question whether to plan t's query again without
// the denied apps (and those an earlier replan excluded), for the user's
// next message in this conversation on any replica, and returns the
// question. The question is asked only when the planner finds a plan
// without those apps, since a yes would find nothing otherwise (then it
// says so); "" when it could not be stored.
func (h *Hub) askReplan(ctx context.Context, t *turn, denied []ids.AppID) string {
	ex := map[ids.AppID]bool{}
	for k := range t.exclude {
		ex[k] = true
	}
	var names []string
	for _, a := range denied {
		ex[a] = true
		names = append(names, string(a))
	}
	if !h.replanExists(ctx, t, ex) {
		return fmt.Sprintf("\n\nSome steps were denied (%s), and no other plan without them can answer this.", strings.Join(names, ", "))
	}
	rp := state.Replan{User: t.user, Conversation: t.conv, Query: t.query, Exclude: slices.Sorted(maps.Keys(ex))}
	err := t.running.keep(func() error { return h.o.Store.PutReplan(ctx, rp, h.o.SessionIdle) })
	if errors.Is(err, errForgotten) {
		return ""
	}
	if err != nil {
		h.log.Error("put replan", "user", t.user, "err", err)
		return ""
	}
	return fmt.Sprintf("\n\nSome steps were denied (%s). Shall I try another plan without them? Reply \"yes\" or \"no\".", strings.Join(names, ", "))
}

func (h *Hub) reply(ctx context.Context, c chat.Conversation, text string) {
	if err := c.Reply(ctx, text); err != nil {
		h.log.Error("post reply", "err", err)
	}
}

// audit appends e, retrying while the store is unavailable. The error
// wraps state.ErrUnaudited; a flow whose entry fails does not happen.
func (h *Hub) audit(ctx context.Context, e state.AuditEvent) error {
	if e.At.IsZero() {
		e.At = h.o.Now()
	}
	err := state.AppendDurable(ctx, h.o.Store, e, h.o.AuditRetry)
	if err != nil {
		h.log.Error("append audit", "type", e.Type, "err", err)
		h.unaudited(e.Type)
	}
	return err
}

// unaudited reports an audit entry that could not be written (the
// TraceUnaudited event, which cli/ counts as a metric).
func (h *Hub) unaudited(entry vocab.AuditType) {
	h.trace(TraceEvent{Type: vocab.TraceUnaudited, Detail: string(entry)})
}

func (h *Hub) trace(e TraceEvent) {
	if h.o.Trace != nil {
		h.o.Trace(e)
	}
}

var _ chat.Assistant = (*Hub)(nil)
