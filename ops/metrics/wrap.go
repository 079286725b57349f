package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// Model times every Generate call of next. A next that streams still
// streams through the wrapper (llm.StreamingModel), timed the same way.
func (m *Metrics) Model(next llm.Model) llm.Model {
	if m == nil {
		return next
	}
	if sm, ok := next.(llm.StreamingModel); ok {
		return timedStreamingModel{timedModel: timedModel{next: next, m: m}, stream: sm}
	}
	return timedModel{next: next, m: m}
}

// timedStreamingModel is timedModel for a model that streams.
type timedStreamingModel struct {
	timedModel
	stream llm.StreamingModel
}

func (t timedStreamingModel) GenerateStream(ctx context.Context, req *llm.Request, onText func(context.Context, string) error) (*llm.Response, error) {
	start := time.Now()
	resp, err := t.stream.GenerateStream(ctx, req, onText)
	t.m.ModelDone(time.Since(start), err)
	return resp, err
}

type timedModel struct {
	next llm.Model
	m    *Metrics
}

func (t timedModel) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	start := time.Now()
	resp, err := t.next.Generate(ctx, req)
	t.m.ModelDone(time.Since(start), err)
	return resp, err
}

// Spawner times every spoke start of next.
func (m *Metrics) Spawner(next hub.Spawner) hub.Spawner {
	if m == nil {
		return next
	}
	return timedSpawner{next: next, m: m}
}

type timedSpawner struct {
	next hub.Spawner
	m    *Metrics
}

func (t timedSpawner) Start(ctx context.Context, spec hub.SpokeSpec) (hub.Spoke, error) {
	start := time.Now()
	s, err := t.next.Start(ctx, spec)
	t.m.SpawnDone(time.Since(start), err)
	return s, err
}

// Unwrap returns the wrapped spawner, for the hub to find its optional
// powers (hub.PreparingSpawner).
func (t timedSpawner) Unwrap() hub.Spawner { return t.next }

// Assistant counts each message handed to next.
func (m *Metrics) Assistant(next chat.Assistant) chat.Assistant {
	if m == nil {
		return next
	}
	return &countingAssistant{next: next, m: m}
}

type countingAssistant struct {
	next chat.Assistant
	m    *Metrics
}

func (a *countingAssistant) Handle(ctx context.Context, msg chat.Message, c chat.Conversation) {
	platform, _, _ := strings.Cut(string(msg.User), ":")
	a.m.Message(platform)
	a.next.Handle(ctx, msg, c)
}

func (a *countingAssistant) Answer(ctx context.Context, ans chat.Answer) error {
	return a.next.Answer(ctx, ans)
}

// Unwrap returns the wrapped assistant, for code that looks for optional
// interfaces on it.
func (a *countingAssistant) Unwrap() chat.Assistant { return a.next }

// Store counts failed calls of next and the permission decisions the gate
// appends to its audit log. Not-found answers and cancelled contexts are
// not failures of the store.
func (m *Metrics) Store(next state.Store) state.Store {
	if m == nil {
		return next
	}
	return &countingStore{Store: next, m: m}
}

// countingStore embeds the store, so a method added to state.Store later
// still works, uncounted, until it is listed here.
type countingStore struct {
	state.Store
	m *Metrics
}

// Unwrap returns the wrapped store.
func (s *countingStore) Unwrap() state.Store { return s.Store }

func (s *countingStore) count(op string, err error) {
	if err == nil || errors.Is(err, state.ErrNotFound) || errors.Is(err, context.Canceled) {
		return
	}
	s.m.StoreError(op)
}

func (s *countingStore) AppendMemory(ctx context.Context, user ids.UserID, app ids.AppID, entries ...state.MemoryEntry) error {
	err := s.Store.AppendMemory(ctx, user, app, entries...)
	s.count("append_memory", err)
	return err
}

func (s *countingStore) ReadMemory(ctx context.Context, user ids.UserID, app ids.AppID, limit int) ([]state.MemoryEntry, error) {
	v, err := s.Store.ReadMemory(ctx, user, app, limit)
	s.count("read_memory", err)
	return v, err
}

func (s *countingStore) ForgetMemory(ctx context.Context, user ids.UserID, app ids.AppID) error {
	err := s.Store.ForgetMemory(ctx, user, app)
	s.count("forget_memory", err)
	return err
}

func (s *countingStore) PutEntities(ctx context.Context, user ids.UserID, facts map[string]string) error {
	err := s.Store.PutEntities(ctx, user, facts)
	s.count("put_entities", err)
	return err
}

func (s *countingStore) Entities(ctx context.Context, user ids.UserID) (map[string]string, error) {
	v, err := s.Store.Entities(ctx, user)
	s.count("entities", err)
	return v, err
}

func (s *countingStore) ForgetEntities(ctx context.Context, user ids.UserID) error {
	err := s.Store.ForgetEntities(ctx, user)
	s.count("forget_entities", err)
	return err
}

func (s *countingStore) ForgetEntity(ctx context.Context, user ids.UserID, key string) (bool, error) {
	ok, err := s.Store.ForgetEntity(ctx, user, key)
	s.count("forget_entity", err)
	return ok, err
}

func (s *countingStore) GetAppState(ctx context.Context, user ids.UserID, ns, key string) (json.RawMessage, bool, error) {
	v, ok, err := s.Store.GetAppState(ctx, user, ns, key)
	s.count("get_app_state", err)
	return v, ok, err
}

func (s *countingStore) PutAppState(ctx context.Context, user ids.UserID, ns, key string, value json.RawMessage) error {
	err := s.Store.PutAppState(ctx, user, ns, key, value)
	s.count("put_app_state", err)
	return err
}

func (s *countingStore) PutGrant(ctx context.Context, g state.Grant) error {
	err := s.Store.PutGrant(ctx, g)
	s.count("put_grant", err)
	return err
}

func (s *countingStore) FindGrant(ctx context.Context, k state.GrantKey, session ids.SessionID) (state.Grant, bool, error) {
	g, ok, err := s.Store.FindGrant(ctx, k, session)
	s.count("find_grant", err)
	return g, ok, err
}

func (s *countingStore) ListGrants(ctx context.Context, user ids.UserID) ([]state.Grant, error) {
	v, err := s.Store.ListGrants(ctx, user)
	s.count("list_grants", err)
	return v, err
}

func (s *countingStore) RevokeGrants(ctx context.Context, user ids.UserID, app ids.AppID) (int, error) {
	n, err := s.Store.RevokeGrants(ctx, user, app)
	s.count("revoke_grants", err)
	return n, err
}

func (s *countingStore) TouchSession(ctx context.Context, user ids.UserID, conv ids.ConversationID, idle time.Duration, now time.Time) (state.Session, error) {
	v, err := s.Store.TouchSession(ctx, user, conv, idle, now)
	s.count("touch_session", err)
	return v, err
}

func (s *countingStore) EndSession(ctx context.Context, user ids.UserID, conv ids.ConversationID) error {
	err := s.Store.EndSession(ctx, user, conv)
	s.count("end_session", err)
	return err
}

func (s *countingStore) PutPending(ctx context.Context, p chat.Prompt) error {
	err := s.Store.PutPending(ctx, p)
	s.count("put_pending", err)
	return err
}

func (s *countingStore) GetPending(ctx context.Context, id ids.PromptID) (chat.Prompt, bool, error) {
	p, ok, err := s.Store.GetPending(ctx, id)
	s.count("get_pending", err)
	return p, ok, err
}

func (s *countingStore) TakePending(ctx context.Context, id ids.PromptID) (chat.Prompt, bool, error) {
	p, ok, err := s.Store.TakePending(ctx, id)
	s.count("take_pending", err)
	return p, ok, err
}

func (s *countingStore) DecidePending(ctx context.Context, d state.Decided, grants []state.Grant) (chat.Prompt, bool, error) {
	p, ok, err := s.Store.DecidePending(ctx, d, grants)
	s.count("decide_pending", err)
	return p, ok, err
}

func (s *countingStore) Decided(ctx context.Context, id ids.PromptID) (state.Decided, bool, error) {
	d, ok, err := s.Store.Decided(ctx, id)
	s.count("decided", err)
	return d, ok, err
}

func (s *countingStore) AppendAudit(ctx context.Context, e state.AuditEvent) error {
	err := s.Store.AppendAudit(ctx, e)
	s.count("append_audit", err)
	switch e.Type {
	case vocab.AuditDecision:
		s.m.Decision(string(e.Kind), e.Decision)
	case vocab.AuditEgressDenied:
		s.m.EgressDenied(string(e.App))
	}
	return err
}

func (s *countingStore) ReadAudit(ctx context.Context, f state.AuditFilter) ([]state.AuditEvent, error) {
	v, err := s.Store.ReadAudit(ctx, f)
	s.count("read_audit", err)
	return v, err
}

func (s *countingStore) FirstSeen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	v, err := s.Store.FirstSeen(ctx, key, ttl)
	s.count("first_seen", err)
	return v, err
}

var _ hub.UnwrappingSpawner = timedSpawner{}
