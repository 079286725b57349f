package invariants

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// evKind is what an observed event is.
type evKind int

const (
	evFrameIn      evKind = iota // hub → spoke frame (what the app received)
	evFrameOut                   // spoke → hub frame
	evPrompt                     // a prompt shown to the conversation
	evResolved                   // a prompt's outcome as the hub reported it
	evAnswer                     // a scripted click (intent; ok says whether the hub took it)
	evReply                      // a reply posted to the conversation
	evAudit                      // an audit event appended to the store
	evEntities                   // remembered facts stored for a user
	evPlanner                    // a request to the hub's planner model
	evResponder                  // another request to the hub's model (a reply writer)
	evSpokeStart                 // hub trace: spoke started
	evSpokeEnd                   // hub trace: spoke reaped
	evTurnStart                  // a user message handed to the hub
	evTurnEnd                    // the hub returned from Handle
	evRequestStart               // the hub began to run a request (one a forget stops)
	evLabel                      // a label record the hub stored beside an app's data (text: the record, no app content)
	evSpokeReuse                 // hub trace: a warm spoke serves another invocation
	evMCPInstall                 // the hostile MCP server installed; text is its metadata token
	evLog                        // a record of the hub's log
)

// event is one observation, ordered by seq.
type event struct {
	seq   int64
	at    time.Time
	kind  evKind
	user  ids.UserID
	app   ids.AppID
	pid   int
	frame isc.Kind
	text  string
	// prompt is set for evPrompt, evResolved and evAnswer.
	prompt   *chat.Prompt
	decision chat.Decision
	by       ids.UserID
	expired  bool
	// ok: evAnswer taken by the hub; evTurnEnd returned normally.
	ok bool
	// command: evTurnStart, evTurnEnd and evReply of a chat command (a
	// forget may come while a request runs: their replies interleave).
	command bool
	audit   *state.AuditEvent
	facts   map[string]string
}

// recorder collects one episode's events.
type recorder struct {
	mu     sync.Mutex // guards all following fields
	seq    int64
	events []*event
}

func (r *recorder) add(e *event) *event {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	e.seq = r.seq
	e.at = time.Now()
	r.events = append(r.events, e)
	return e
}

// update changes a recorded event under the recorder's lock.
func (r *recorder) update(fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn()
}

// snapshot returns the events in seq order.
func (r *recorder) snapshot() []*event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*event(nil), r.events...)
}

// trace is the hub's Options.Trace.
func (r *recorder) trace(t hub.TraceEvent) {
	switch t.Type {
	case vocab.TraceSpokeStart:
		r.add(&event{kind: evSpokeStart, user: t.User, app: t.App, pid: t.PID})
	case vocab.TraceSpokeEnd, vocab.TraceWarmEnd:
		r.add(&event{kind: evSpokeEnd, user: t.User, app: t.App, pid: t.PID, text: t.Detail})
	case vocab.TraceSpokeReuse:
		r.add(&event{kind: evSpokeReuse, user: t.User, app: t.App, pid: t.PID})
	case vocab.TraceRequestStart:
		r.add(&event{kind: evRequestStart, user: t.User})
	}
}

// recStore is the episode's store with its audit appends, remembered
// facts and label records observed.
type recStore struct {
	state.Store
	rec *recorder
}

func (s *recStore) AppendAudit(ctx context.Context, e state.AuditEvent) error {
	ec := e
	s.rec.add(&event{kind: evAudit, user: e.User, app: e.App, audit: &ec, text: e.Detail})
	return s.Store.AppendAudit(ctx, e)
}

func (s *recStore) PutEntities(ctx context.Context, user ids.UserID, facts map[string]string) error {
	fc := make(map[string]string, len(facts))
	for k, v := range facts {
		fc[k] = v
	}
	s.rec.add(&event{kind: evEntities, user: user, facts: fc})
	return s.Store.PutEntities(ctx, user, facts)
}

// labelNamespacePrefix starts the app-state namespaces where the hub
// keeps its label records (core/hub label.go); no app can name them.
const labelNamespacePrefix = "secgpt.label/"

// AppendMemory records each entry's label: the entry as stored, less its
// content, which is what the app itself wrote.
func (s *recStore) AppendMemory(ctx context.Context, user ids.UserID, app ids.AppID, entries ...state.MemoryEntry) error {
	for _, e := range entries {
		e.Content = ""
		raw, _ := json.Marshal(e)
		s.rec.add(&event{kind: evLabel, user: user, app: app, text: "memory entry " + string(raw)})
	}
	return s.Store.AppendMemory(ctx, user, app, entries...)
}

// AddAppStateSet records the members the hub adds to a label set.
func (s *recStore) AddAppStateSet(ctx context.Context, user ids.UserID, ns, key string, members ...string) error {
	s.rec.add(&event{kind: evLabel, user: user, text: "set " + ns + "/" + key + " " + strings.Join(members, " ")})
	return s.Store.AddAppStateSet(ctx, user, ns, key, members...)
}

// PutAppState records a label record written as a plain value.
func (s *recStore) PutAppState(ctx context.Context, user ids.UserID, ns, key string, value json.RawMessage) error {
	if strings.HasPrefix(ns, labelNamespacePrefix) {
		s.rec.add(&event{kind: evLabel, user: user, text: "state " + ns + "/" + key + " " + string(value)})
	}
	return s.Store.PutAppState(ctx, user, ns, key, value)
}
