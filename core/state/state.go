// Package state defines what SecGPT remembers and the Store interface behind
// which every backend keeps it: per-user per-app conversation memory, the
// hub's entity memory, per-user app state, grants, sessions, pending prompts,
// pending replan questions and the append-only audit log.
//
// Backends live in sub-packages (state/bolt: the embedded single-file
// default; state/redis: for deployments and replicas) and must pass the
// shared conformance suite in state/statetest.
package state

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// ErrNotFound is returned by lookups of a single record that does not exist
// (Session lookups, GetPending, GetAppState report it through their bool).
var ErrNotFound = errors.New("state: not found")

// ErrUnavailable wraps backend errors that mean the store cannot be reached
// right now (a Redis outage). Callers may retry.
var ErrUnavailable = errors.New("state: store unavailable")

// MemoryEntry is one remembered line of a conversation with one app.
type MemoryEntry struct {
	Role    string    `json:"role"`
	Content string    `json:"content"`
	At      time.Time `json:"at"`
	// Sources and FactKeys are the hub's label of the entry: the other
	// apps and the remembered facts what the app held when it wrote the
	// entry derives from. An app that reads its memory in a later message
	// holds them again, so a rule or a grant is checked against them then
	// too. Facts are named by their key only: the value stays in the
	// user's entity memory alone, so a fact forgotten or changed there
	// leaves no copy here.
	Sources  []ids.AppID `json:"sources,omitempty"`
	FactKeys []string    `json:"fact_keys,omitempty"`
}

// Memory is per-user, per-app conversation memory. One user's memory never
// reaches another user; one app's never reaches another app.
type Memory interface {
	// AppendMemory adds entries for (user, app).
	AppendMemory(ctx context.Context, user ids.UserID, app ids.AppID, entries ...MemoryEntry) error
	// ReadMemory returns up to limit of the newest entries, oldest first.
	// Entries older than the store's retention are not returned.
	ReadMemory(ctx context.Context, user ids.UserID, app ids.AppID, limit int) ([]MemoryEntry, error)
	// ForgetMemory deletes (user, app)'s memory, or all of user's app memory
	// when app is "".
	ForgetMemory(ctx context.Context, user ids.UserID, app ids.AppID) error
}

// Entities is the hub's entity memory: facts the user told the assistant
// (name, date of birth, conditions), keyed by a field name. It never reaches
// an app without a data grant.
type Entities interface {
	PutEntities(ctx context.Context, user ids.UserID, facts map[string]string) error
	Entities(ctx context.Context, user ids.UserID) (map[string]string, error)
	ForgetEntities(ctx context.Context, user ids.UserID) error
	// ForgetEntity deletes one of user's facts and reports whether it was
	// there.
	ForgetEntity(ctx context.Context, user ids.UserID, key string) (bool, error)
}

// AppState is a small key/value space per (user, namespace) where apps keep
// their own data (a mailbox's sent and deleted mail). A spoke reaches only
// its own app's namespace, through the hub.
type AppState interface {
	GetAppState(ctx context.Context, user ids.UserID, ns string, key string) (json.RawMessage, bool, error)
	PutAppState(ctx context.Context, user ids.UserID, ns string, key string, value json.RawMessage) error
}

// GrantKey is what a grant covers: a user, a kind, an app or app pair, the
// target's function, and whether the request was part of a plan. A grant
// covers exactly its key: an "always" collab grant for the planned flow
// A→B (A's result fills B's arguments) does not cover A's spoke calling B
// on its own at run time, and a grant for one function of an app does not
// cover another. For exec and data grants Requester is "".
type GrantKey struct {
	User      ids.UserID `json:"user"`
	Kind      vocab.Kind `json:"kind"`
	Requester ids.AppID  `json:"requester,omitempty"`
	Target    ids.AppID  `json:"target"`
	// Function is the target's function ("" for annotation apps, and for
	// the answer of a run-time call going back to its caller).
	Function string `json:"function,omitempty"`
	// Unplanned is set for grants given to requests outside a plan (a
	// spoke's call of another app while it runs).
	Unplanned bool `json:"unplanned,omitempty"`
}

// ID is the key's identity within its user's grants, for backends that
// store grants under a string key. Keys of the original shape (no function,
// planned) keep their old identity.
func (k GrantKey) ID() string {
	id := string(k.Kind) + "\x00" + string(k.Requester) + "\x00" + string(k.Target)
	if k.Function != "" || k.Unplanned {
		id += "\x00fn=" + k.Function
		if k.Unplanned {
			id += "\x00unplanned"
		}
	}
	return id
}

// Grant is a stored permission. Only session and always decisions are stored.
type Grant struct {
	GrantKey
	Decision vocab.Decision `json:"decision"`
	// Session is set for session grants; they apply only within it.
	Session ids.SessionID `json:"session,omitempty"`
	At      time.Time     `json:"at"`
}

// Grants keeps permission grants. "always" grants are durable.
type Grants interface {
	PutGrant(ctx context.Context, g Grant) error
	// FindGrant returns an "always" grant for k, or a "session" grant for k
	// whose Session is session (when session is not "").
	FindGrant(ctx context.Context, k GrantKey, session ids.SessionID) (Grant, bool, error)
	// ListGrants returns all of user's grants, sorted by kind, requester, target.
	ListGrants(ctx context.Context, user ids.UserID) ([]Grant, error)
	// RevokeGrants deletes user's grants whose Target or Requester is app
	// (every grant when app is ""), and returns how many were deleted.
	RevokeGrants(ctx context.Context, user ids.UserID, app ids.AppID) (int, error)
}

// Session is one user's session in one conversation.
type Session struct {
	ID           ids.SessionID      `json:"id"`
	User         ids.UserID         `json:"user"`
	Conversation ids.ConversationID `json:"conversation"`
	Started      time.Time          `json:"started"`
	LastActive   time.Time          `json:"last_active"`
}

// Sessions keeps one current session per (user, conversation).
type Sessions interface {
	// TouchSession returns the current session of (user, conv), starting a
	// new one if there is none or the last activity is older than idle, and
	// records now as its last activity.
	TouchSession(ctx context.Context, user ids.UserID, conv ids.ConversationID, idle time.Duration, now time.Time) (Session, error)
	// EndSession ends the current session of (user, conv), if any.
	EndSession(ctx context.Context, user ids.UserID, conv ids.ConversationID) error
	// EndSessionsUnder ends user's sessions in the conversations under
	// conv (IDs that start with conv + "/": a Slack channel's threads),
	// not conv's own, and returns those conversations, sorted.
	EndSessionsUnder(ctx context.Context, user ids.UserID, conv ids.ConversationID) ([]ids.ConversationID, error)
}

// Pending keeps permission prompts that wait for an answer, so that a click
// delivered to any replica finds the prompt.
type Pending interface {
	PutPending(ctx context.Context, p vocab.Prompt) error
	GetPending(ctx context.Context, id ids.PromptID) (vocab.Prompt, bool, error)
	// TakePending deletes the prompt and returns it; exactly one caller wins
	// when several race for the same id.
	TakePending(ctx context.Context, id ids.PromptID) (vocab.Prompt, bool, error)
}

// Replan is the hub's pending question "shall I try another plan without
// the steps you denied?" in one conversation, waiting for the user's yes
// or no.
type Replan struct {
	User         ids.UserID         `json:"user"`
	Conversation ids.ConversationID `json:"conversation"`
	// Query is the user's message the new plan is for.
	Query string `json:"query"`
	// Exclude are the apps the new plan must not use.
	Exclude []ids.AppID `json:"exclude,omitempty"`
}

// Replans keeps pending replan questions, so that the answer finds its
// question on whichever replica it reaches.
type Replans interface {
	// PutReplan stores r as the pending question of (r.User,
	// r.Conversation), replacing any earlier one; it expires after ttl,
	// which must be positive.
	PutReplan(ctx context.Context, r Replan, ttl time.Duration) error
	// TakeReplan deletes the pending question of (user, conv) and returns
	// it unless it has expired; exactly one caller wins when several race.
	TakeReplan(ctx context.Context, user ids.UserID, conv ids.ConversationID) (Replan, bool, error)
	// ForgetReplans deletes user's pending questions in every conversation
	// and returns how many had not expired: a question holds the user's
	// words, and a later yes must not run a plan built from forgotten ones.
	ForgetReplans(ctx context.Context, user ids.UserID) (int, error)
}

// AuditEvent is one line of the append-only audit log.
type AuditEvent struct {
	// ID is assigned by the store on append (monotonic within a store).
	ID   string     `json:"id,omitempty"`
	At   time.Time  `json:"at"`
	User ids.UserID `json:"user,omitempty"`
	// Type says what happened (vocab.AuditDecision, vocab.AuditFlow, …).
	Type      vocab.AuditType `json:"type"`
	Kind      vocab.Kind      `json:"kind,omitempty"`
	App       ids.AppID       `json:"app,omitempty"`
	Requester ids.AppID       `json:"requester,omitempty"`
	Decision  string          `json:"decision,omitempty"`
	// Detail is free text or JSON: the data that moved, the reason, …
	Detail string `json:"detail,omitempty"`
}

// AuditFilter selects audit events; zero fields match everything.
type AuditFilter struct {
	User  ids.UserID
	App   ids.AppID // matches App or Requester
	Kind  vocab.Kind
	Type  vocab.AuditType
	Since time.Time
	Until time.Time
	Limit int // 0 means no limit; otherwise the newest Limit events
}

// Match reports whether e passes f (Limit aside).
func (f AuditFilter) Match(e AuditEvent) bool {
	if f.User != "" && e.User != f.User {
		return false
	}
	if f.App != "" && e.App != f.App && e.Requester != f.App {
		return false
	}
	if f.Kind != "" && e.Kind != f.Kind {
		return false
	}
	if f.Type != "" && e.Type != f.Type {
		return false
	}
	if !f.Since.IsZero() && e.At.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && e.At.After(f.Until) {
		return false
	}
	return true
}

// Audit is the append-only audit log.
type Audit interface {
	AppendAudit(ctx context.Context, e AuditEvent) error
	// ReadAudit returns matching events, oldest first.
	ReadAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
}

// Dedup records platform event ids so each is processed once, across
// restarts and replicas.
type Dedup interface {
	// FirstSeen records key and reports whether this call was the first to do
	// so within ttl.
	FirstSeen(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// Store is everything a SecGPT deployment keeps.
type Store interface {
	Memory
	Entities
	AppState
	AppStateAdmin
	Grants
	Sessions
	Pending
	Decisions
	Replans
	Pins
	Audit
	Dedup
	Marks
	// Describe says which backend and where ("bolt file /path", "redis host:port/db").
	Describe() string
	Close() error
}
