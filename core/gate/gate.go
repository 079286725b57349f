// Package gate is the hub's permission gate. Before an app runs, before
// remembered data reaches an app, and before one app's output reaches
// another, the hub asks the gate; the gate answers from a stored grant or by
// prompting the user through the conversation's adapter, and records every
// decision in the audit log.
//
// Only core/hub, its in-process test double core/hubtest, cli/ (which
// checks the configured rules at start), evaluation/invariants (which draws
// rule sets and checks decisions against them) and tests import it.
package gate

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// Store is what the gate needs of the state store.
type Store interface {
	state.Grants
	state.Pending
	state.Decisions
	state.Audit
}

// Relay carries answers between replicas that share a store: an answer
// delivered to one replica resumes the query waiting on another.
type Relay interface {
	// Publish announces that prompt id was decided.
	Publish(ctx context.Context, id ids.PromptID, d chat.Decision, by ids.UserID) error
	// Subscribe calls fn for every announcement until ctx is done.
	Subscribe(ctx context.Context, fn func(id ids.PromptID, d chat.Decision, by ids.UserID)) error
}

// Liveness tells whether another replica is still running.
type Liveness interface {
	Alive(ctx context.Context, replicaID string) (bool, error)
}

// Request is one permission question.
type Request struct {
	User         ids.UserID
	Session      ids.SessionID
	Conversation ids.ConversationID
	Kind         chat.Kind
	// Requester is the app asking (collab), or "".
	Requester ids.AppID
	Target    ids.AppID
	Function  string
	// Data is exactly what would be shared.
	Data      string
	Unplanned bool
	Reason    string
	// Effect is the target function's effect (read, write, send, destroy).
	Effect string
	// Args are the arguments the target function would run with, for rule
	// conditions (rules.go); "<result_N>" values are not known yet.
	Args json.RawMessage
	// Confirm asks again even when a grant is stored: a send or destroy
	// step shown with the concrete arguments it got at run time. Rules
	// still apply.
	Confirm bool
}

// Key returns the grant key the request is decided under: kind, app or
// app pair, the target's function, and planned or not (see state.GrantKey).
func (r Request) Key() state.GrantKey {
	return state.GrantKey{User: r.User, Kind: r.Kind, Requester: r.Requester, Target: r.Target,
		Function: r.Function, Unplanned: r.Unplanned}
}

// Gate decides permission requests. It is safe for concurrent use.
type Gate struct {
	store      Store
	relay      Relay
	replica    string
	live       Liveness
	timeout    time.Duration
	poll       time.Duration
	auditRetry time.Duration
	unaudited  func(entry vocab.AuditType)
	now        func() time.Time
	log        *slog.Logger
	rules      []Rule

	mu      sync.Mutex // guards waiters
	waiters map[ids.PromptID]waiter
}

// waiter is a prompt this replica waits on.
type waiter struct {
	ch   chan struct{}
	user ids.UserID
	// dflt is its outcome when nobody answers (deny, or cancel).
	dflt chat.Decision
}

// answer is a prompt's outcome as the store holds it.
type answer struct {
	d       chat.Decision
	by      ids.UserID
	replica string
}

// Options configure a Gate.
type Options struct {
	// Timeout is how long a prompt waits; no answer in time means deny.
	Timeout time.Duration
	// Relay, if set, forwards answers between replicas.
	Relay Relay
	// ReplicaID names this replica in the prompts it asks and in the
	// outcomes and audit entries of the answers it takes.
	ReplicaID string
	// Liveness, if set, lets an answer for a prompt of a dead replica be
	// reported (chat.ErrAskAgain) instead of published to nobody.
	Liveness Liveness
	// Poll is how often a replica waiting for an answer reads the store
	// for it, in case the relay missed it (its subscription was down);
	// 0 means 1 s. Used only with a Relay.
	Poll time.Duration
	// AuditRetry bounds how long an audit entry the store cannot take is
	// retried before the action it records is refused; 0 means
	// state.DefaultAuditRetry.
	AuditRetry time.Duration
	// Unaudited, if set, is called with the entry's type each time an
	// audit entry could not be written (a metric).
	Unaudited func(entry vocab.AuditType)
	Now       func() time.Time
	Logger    *slog.Logger
	// Rules are the operator's allow / deny / ask rules, checked before
	// stored grants and prompts.
	Rules []Rule
}

// New returns a Gate over store.
func New(store Store, o Options) *Gate {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	return &Gate{store: store, relay: o.Relay, replica: o.ReplicaID, live: o.Liveness, timeout: o.Timeout, poll: o.Poll,
		auditRetry: o.AuditRetry, unaudited: o.Unaudited, now: o.Now, log: o.Logger, rules: o.Rules,
		waiters: map[ids.PromptID]waiter{}}
}

// Run forwards relayed answers to local waiters until ctx is done. It is
// needed only with a Relay.
func (g *Gate) Run(ctx context.Context) error {
	if g.relay == nil {
		<-ctx.Done()
		return nil
	}
	// An announcement only wakes the waiter: what it acts on is the
	// outcome it reads from the store.
	return g.relay.Subscribe(ctx, func(id ids.PromptID, _ chat.Decision, _ ids.UserID) {
		g.wake(id)
	})
}

// wake tells the local waiter of prompt id, if any, that its outcome is
// stored.
func (g *Gate) wake(id ids.PromptID) bool {
	g.mu.Lock()
	w, ok := g.waiters[id]
	g.mu.Unlock()
	if !ok {
		return false
	}
	select {
	case w.ch <- struct{}{}:
	default:
	}
	return true
}

// Check decides r: from a stored grant if there is one, otherwise by asking
// the user through c. It returns the decision; a prompt that is not answered
// in time, or a ctx that ends, gives chat.Deny.
func (g *Gate) Check(ctx context.Context, c chat.Conversation, r Request) (chat.Decision, error) {
	if !r.Kind.Valid() {
		return chat.Deny, fmt.Errorf("gate: invalid kind %q", r.Kind)
	}
	d, rule, decided, err := g.precheck(ctx, r)
	if err != nil || decided {
		return d, err
	}
	return g.ask(ctx, c, r, rule)
}

// precheck decides r from the rules and stored grants when they decide
// it; decided is false when the user must be asked (rule then names the
// ask rule that forced it, if any).
func (g *Gate) precheck(ctx context.Context, r Request) (d chat.Decision, rule string, decided bool, err error) {
	if ru, ok := Decide(g.rules, r); ok {
		switch ru.Action {
		case ActionDeny:
			// A deny needs no record to hold: nothing runs either way.
			_ = g.audit(ctx, r, "rule:deny", ru.String())
			return chat.Deny, ru.String(), true, nil
		case ActionAllow:
			if err := g.audit(ctx, r, "rule:allow", ru.String()); err != nil {
				return chat.Deny, ru.String(), true, err
			}
			return chat.AllowOnce, ru.String(), true, nil
		case ActionAsk:
			return "", ru.String(), false, nil
		}
	}
	if r.Confirm {
		return "", "", false, nil
	}
	gr, ok, err := g.store.FindGrant(ctx, r.Key(), r.Session)
	if err != nil {
		return chat.Deny, "", true, fmt.Errorf("gate: look up grant: %w", err)
	}
	if ok {
		if err := g.audit(ctx, r, "grant:"+string(gr.Decision), ""); err != nil {
			return chat.Deny, "", true, err
		}
		return gr.Decision, "", true, nil
	}
	if ok, err := g.readsGranted(ctx, r); err != nil || ok {
		if err != nil {
			return chat.Deny, "", true, err
		}
		g.audit(ctx, r, "grant:"+string(chat.AllowAlways), "every read of "+string(r.Target))
		return chat.AllowAlways, "", true, nil
	}
	return "", "", false, nil
}

// Stored reports whether a stored grant allows r, without prompting.
func (g *Gate) Stored(ctx context.Context, r Request) (bool, error) {
	_, ok, err := g.store.FindGrant(ctx, r.Key(), r.Session)
	return ok, err
}

// StoredAlways reports whether an "always" grant covers r.
func (g *Gate) StoredAlways(ctx context.Context, r Request) (bool, error) {
	gr, ok, err := g.store.FindGrant(ctx, r.Key(), "")
	return ok && gr.Decision == chat.AllowAlways, err
}

// Rules returns the operator rules, for listing.
func (g *Gate) Rules() []Rule { return append([]Rule(nil), g.rules...) }

func (g *Gate) ask(ctx context.Context, c chat.Conversation, r Request, rule string) (chat.Decision, error) {
	p := chat.Prompt{
		User:         r.User,
		Conversation: r.Conversation,
		Session:      r.Session,
		Kind:         r.Kind,
		Requester:    r.Requester,
		Target:       r.Target,
		Function:     r.Function,
		Data:         r.Data,
		Unplanned:    r.Unplanned,
		Reason:       r.Reason,
		Effect:       r.Effect,
		Rule:         rule,
		Confirm:      r.Confirm,
	}
	a, expired, err := g.show(ctx, c, p, chat.Deny)
	if err != nil {
		_ = g.audit(ctx, r, string(chat.Deny), "prompt could not be shown: "+err.Error())
		return chat.Deny, err
	}
	detail := a.answeredBy()
	if expired {
		detail = "no answer in time: denied"
	}
	if err := g.audit(ctx, r, string(a.d), detail); err != nil && a.d.Allows() {
		return chat.Deny, err
	}
	return a.d, nil
}

// answeredBy says who answered and on which replica, for the audit log.
func (a answer) answeredBy() string {
	s := "answered by " + string(a.by)
	if a.replica != "" {
		s += " on replica " + a.replica
	}
	return s
}

// Ask shows p, a question that is not a permission (an app's elicitation:
// Kind chat.KindElicit with its Options), to its user and returns the
// answer and who gave it. Nothing is stored as a grant. An unanswered
// question, or a ctx that ends, gives chat.Cancel; so does an answer that
// cannot be audited.
func (g *Gate) Ask(ctx context.Context, c chat.Conversation, p chat.Prompt) (chat.Decision, error) {
	if p.Kind != chat.KindElicit || len(p.Options) == 0 {
		return chat.Cancel, fmt.Errorf("gate: ask: not a question prompt")
	}
	r := Request{User: p.User, Conversation: p.Conversation, Session: p.Session, Kind: p.Kind, Target: p.Target, Function: p.Function, Data: p.Data}
	a, expired, err := g.show(ctx, c, p, chat.Cancel)
	if err != nil {
		_ = g.audit(ctx, r, string(chat.Cancel), "question could not be shown: "+err.Error())
		return chat.Cancel, err
	}
	if expired {
		_ = g.audit(ctx, r, string(chat.Cancel), "no answer in time")
		return chat.Cancel, nil
	}
	if err := g.audit(ctx, r, string(a.d), a.answeredBy()); err != nil {
		return chat.Cancel, err
	}
	return a.d, nil
}

// show records p as pending, shows it and waits for its outcome in the
// store: woken by a local answer or the relay, or finding it by polling
// when the relay is down. A prompt not answered in time, or a ctx that
// ends, gets dflt as its stored outcome (expired true) unless an answer
// was stored first; what show returns, and what the conversation shows,
// is the stored outcome.
func (g *Gate) show(ctx context.Context, c chat.Conversation, p chat.Prompt, dflt chat.Decision) (answer, bool, error) {
	p.ID = ids.PromptID(randomHex(12))
	p.Nonce = randomToken(24)
	p.ExpiresAt = g.now().Add(g.timeout)
	p.Replica = g.replica
	ch := make(chan struct{}, 1)
	g.mu.Lock()
	g.waiters[p.ID] = waiter{ch: ch, user: p.User, dflt: dflt}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.waiters, p.ID)
		g.mu.Unlock()
	}()
	if err := g.store.PutPending(ctx, p); err != nil {
		return answer{d: dflt}, false, fmt.Errorf("gate: record prompt: %w", err)
	}
	if err := c.Prompt(ctx, p); err != nil {
		_, _, _ = g.store.TakePending(context.WithoutCancel(ctx), p.ID)
		return answer{d: dflt}, false, fmt.Errorf("gate: show prompt: %w", err)
	}
	a, expired := g.wait(ctx, p.ID, ch, dflt)
	if rc, ok := c.(chat.ResolvingConversation); ok {
		if err := rc.Resolved(context.WithoutCancel(ctx), p, a.d, a.by, expired); err != nil {
			g.log.Warn("update resolved prompt", "prompt", p.ID, "err", err)
		}
	}
	return a, expired, nil
}

// Answer applies a user's answer to a pending prompt. Only the asked user
// with the prompt's nonce can answer, before the prompt expires; the first
// valid answer wins. The answer is audited (who, on which replica) before
// it takes effect, and refused if it cannot be; then the prompt's outcome
// and any session or always grants are stored in one step
// (state.Decisions), so a grant is kept even if the replica that asked is
// gone, and the asking replica acts on exactly what was stored.
func (g *Gate) Answer(ctx context.Context, a chat.Answer) error {
	if !a.Decision.Known() {
		return fmt.Errorf("gate: invalid decision %q", a.Decision)
	}
	p, ok, err := g.store.GetPending(ctx, a.Prompt)
	if err != nil {
		return fmt.Errorf("gate: look up prompt: %w", err)
	}
	if !ok || subtle.ConstantTimeCompare([]byte(p.Nonce), []byte(a.Nonce)) != 1 {
		return chat.ErrUnknownPrompt
	}
	// A question's answer is one of its own options, and a permission's
	// one of the four decisions: never a grant from a question.
	if p.Kind == chat.KindElicit {
		if !p.Answers(a.Decision) {
			return fmt.Errorf("gate: %q does not answer this question", a.Decision)
		}
	} else if _, reads := a.Decision.ReadsApp(); !a.Decision.Valid() && !reads {
		return fmt.Errorf("gate: invalid decision %q", a.Decision)
	}
	if a.Decision == chat.Review && p.Kind != chat.KindPlan {
		return fmt.Errorf("gate: %q answers only a plan prompt", a.Decision)
	}
	readsApp, reads := a.Decision.ReadsApp()
	if reads && (p.Kind != chat.KindPlan || p.ReadsApp != readsApp) {
		return fmt.Errorf("gate: %q was not offered by this prompt", a.Decision)
	}
	if p.User != a.User {
		_ = g.store.AppendAudit(ctx, state.AuditEvent{At: g.now(), User: a.User, Type: vocab.AuditRefusedAnswer, Kind: p.Kind,
			App: p.Target, Requester: p.Requester, Decision: string(a.Decision), Detail: "prompt " + string(p.ID) + " belongs to " + string(p.User)})
		return chat.ErrNotYours
	}
	// The asking replica stores the expiry outcome once the prompt is
	// past ExpiresAt; an answer after that would decide a prompt whose
	// query has already been told "denied".
	if !p.ExpiresAt.IsZero() && g.now().After(p.ExpiresAt) {
		return chat.ErrUnknownPrompt
	}
	detail := fmt.Sprintf("prompt %s %s", p.ID, answer{by: a.User, replica: g.replica}.answeredBy())
	if p.Replica != "" && p.Replica != g.replica {
		detail += " (asked on replica " + p.Replica + ")"
	}
	if err := g.durable(ctx, state.AuditEvent{At: g.now(), User: a.User, Type: vocab.AuditAnswer, Kind: p.Kind, App: p.Target,
		Requester: p.Requester, Decision: string(a.Decision), Detail: detail}); err != nil {
		return fmt.Errorf("gate: answer not recorded: %w", err)
	}
	var grants []state.Grant
	if a.Decision == chat.AllowSession || a.Decision == chat.AllowAlways {
		// A plan prompt's answer is stored per component, so a later plan
		// made only of granted parts runs without a prompt.
		keys := []state.GrantKey{{User: p.User, Kind: p.Kind, Requester: p.Requester, Target: p.Target,
			Function: p.Function, Unplanned: p.Unplanned}}
		if p.Kind == chat.KindPlan {
			keys = keys[:0]
			for _, c := range p.Components {
				keys = append(keys, state.GrantKey{User: p.User, Kind: c.Kind, Requester: c.Requester, Target: c.Target, Function: c.Function})
			}
		}
		for _, k := range keys {
			g2 := state.Grant{GrantKey: k, Decision: a.Decision, At: g.now()}
			if a.Decision == chat.AllowSession {
				g2.Session = p.Session
			}
			grants = append(grants, g2)
		}
	}
	if reads {
		// The plan itself is allowed once; what stays is the grant, stored
		// with the answer in one step.
		grants = append(grants, readsGrant(p.User, readsApp, g.now()))
		if err := g.audit(ctx, Request{User: p.User, Kind: chat.KindExec, Target: readsApp, Function: chat.ReadsFunction}, string(chat.AllowAlways),
			"every planned read of "+string(readsApp)+", chosen on plan prompt "+string(p.ID)); err != nil {
			return fmt.Errorf("gate: answer not recorded: %w", err)
		}
		a.Decision = chat.AllowOnce
	}
	out := state.Decided{Prompt: p.ID, Decision: a.Decision, By: a.User, Replica: g.replica, At: g.now()}
	if _, took, err := g.store.DecidePending(ctx, out, grants); err != nil {
		return fmt.Errorf("gate: store answer: %w", err)
	} else if !took {
		return chat.ErrUnknownPrompt
	}
	if g.wake(p.ID) {
		return nil
	}
	if g.relay == nil {
		// A single replica that has no waiter for a pending prompt has
		// restarted since it asked.
		return chat.ErrAskAgain
	}
	if g.live != nil && p.Replica != "" && p.Replica != g.replica {
		alive, err := g.live.Alive(ctx, p.Replica)
		if err == nil && !alive {
			g.log.Info("answer for a prompt of a dead replica", "prompt", p.ID, "replica", p.Replica)
			return chat.ErrAskAgain
		}
	}
	if err := g.relay.Publish(ctx, p.ID, a.Decision, a.User); err != nil {
		// The outcome is stored; the waiting replica finds it by polling.
		g.log.Warn("relay answer", "prompt", p.ID, "err", err)
	}
	return nil
}

// audit records a decision on r; the error wraps state.ErrUnaudited when
// it could not be written, and the caller refuses what it would allow.
func (g *Gate) audit(ctx context.Context, r Request, decision, detail string) error {
	d := r.Data
	if len(d) > 2000 {
		d = d[:2000] + "…"
	}
	// Where: the replica whose query the decision is for (who answered,
	// and where, is in detail).
	if g.replica != "" {
		detail = strings.TrimSpace(detail + " (recorded on replica " + g.replica + ")")
	}
	if detail != "" {
		d = detail + "; data: " + d
	}
	return g.durable(ctx, state.AuditEvent{At: g.now(), User: r.User, Type: vocab.AuditDecision, Kind: r.Kind,
		App: r.Target, Requester: r.Requester, Decision: decision, Detail: d})
}

// durable appends e, retrying while the store is unavailable.
func (g *Gate) durable(ctx context.Context, e state.AuditEvent) error {
	err := state.AppendDurable(ctx, g.store, e, g.auditRetry)
	if err != nil {
		g.log.Error("append audit", "type", e.Type, "decision", e.Decision, "err", err)
		if g.unaudited != nil {
			g.unaudited(e.Type)
		}
	}
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
