// Package gate is the hub's permission gate. Before an app runs, before
// remembered data reaches an app, and before one app's output reaches
// another, the hub asks the gate; the gate answers from a stored grant or by
// prompting the user through the conversation's adapter, and records every
// decision in the audit log.
//
// Only core/hub and tests import it.
package gate

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

// Store is what the gate needs of the state store.
type Store interface {
	state.Grants
	state.Pending
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
	store   Store
	relay   Relay
	replica string
	live    Liveness
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
	rules   []Rule

	mu      sync.Mutex // guards waiters
	waiters map[ids.PromptID]chan answer
}

type answer struct {
	d  chat.Decision
	by ids.UserID
}

// Options configure a Gate.
type Options struct {
	// Timeout is how long a prompt waits; no answer in time means deny.
	Timeout time.Duration
	// Relay, if set, forwards answers between replicas.
	Relay Relay
	// ReplicaID names this replica in the prompts it asks.
	ReplicaID string
	// Liveness, if set, lets an answer for a prompt of a dead replica be
	// reported (chat.ErrAskAgain) instead of published to nobody.
	Liveness Liveness
	Now      func() time.Time
	Logger   *slog.Logger
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
	return &Gate{store: store, relay: o.Relay, replica: o.ReplicaID, live: o.Liveness, timeout: o.Timeout, now: o.Now, log: o.Logger, rules: o.Rules, waiters: map[ids.PromptID]chan answer{}}
}

// Run forwards relayed answers to local waiters until ctx is done. It is
// needed only with a Relay.
func (g *Gate) Run(ctx context.Context) error {
	if g.relay == nil {
		<-ctx.Done()
		return nil
	}
	return g.relay.Subscribe(ctx, func(id ids.PromptID, d chat.Decision, by ids.UserID) {
		g.deliver(id, answer{d, by})
	})
}

func (g *Gate) deliver(id ids.PromptID, a answer) bool {
	g.mu.Lock()
	ch, ok := g.waiters[id]
	g.mu.Unlock()
	if !ok {
		return false
	}
	select {
	case ch <- a:
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
	if ru, ok := match(g.rules, r); ok {
		switch ru.Action {
		case ActionDeny:
			g.audit(ctx, r, "rule:deny", ru.String())
			return chat.Deny, ru.String(), true, nil
		case ActionAllow:
			g.audit(ctx, r, "rule:allow", ru.String())
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
		g.audit(ctx, r, "grant:"+string(gr.Decision), "")
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
	a, expired, err := g.show(ctx, c, p)
	if err != nil {
		g.audit(ctx, r, string(chat.Deny), "prompt could not be shown: "+err.Error())
		return chat.Deny, err
	}
	detail := "answered by " + string(a.by)
	if expired {
		detail = "no answer in time: denied"
	}
	g.audit(context.WithoutCancel(ctx), r, string(a.d), detail)
	return a.d, nil
}

// Ask shows p, a question that is not a permission (an app's elicitation:
// Kind chat.KindElicit with its Options), to its user and returns the
// answer and who gave it. Nothing is stored as a grant. An unanswered
// question, or a ctx that ends, gives chat.Cancel.
func (g *Gate) Ask(ctx context.Context, c chat.Conversation, p chat.Prompt) (chat.Decision, error) {
	if p.Kind != chat.KindElicit || len(p.Options) == 0 {
		return chat.Cancel, fmt.Errorf("gate: ask: not a question prompt")
	}
	r := Request{User: p.User, Conversation: p.Conversation, Session: p.Session, Kind: p.Kind, Target: p.Target, Function: p.Function, Data: p.Data}
	a, expired, err := g.show(ctx, c, p)
	if err != nil {
		g.audit(ctx, r, string(chat.Cancel), "question could not be shown: "+err.Error())
		return chat.Cancel, err
	}
	if expired {
		g.audit(context.WithoutCancel(ctx), r, string(chat.Cancel), "no answer in time")
		return chat.Cancel, nil
	}
	g.audit(context.WithoutCancel(ctx), r, string(a.d), "answered by "+string(a.by))
	return a.d, nil
}

// show records p as pending, shows it and waits for its answer; a prompt
// not answered in time, or a ctx that ends, gives Deny (expired true).
func (g *Gate) show(ctx context.Context, c chat.Conversation, p chat.Prompt) (answer, bool, error) {
	p.ID = ids.PromptID(randomHex(12))
	p.Nonce = randomToken(24)
	p.ExpiresAt = g.now().Add(g.timeout)
	p.Replica = g.replica
	ch := make(chan answer, 1)
	g.mu.Lock()
	g.waiters[p.ID] = ch
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.waiters, p.ID)
		g.mu.Unlock()
	}()
	if err := g.store.PutPending(ctx, p); err != nil {
		return answer{d: chat.Deny}, false, fmt.Errorf("gate: record prompt: %w", err)
	}
	if err := c.Prompt(ctx, p); err != nil {
		_, _, _ = g.store.TakePending(context.WithoutCancel(ctx), p.ID)
		return answer{d: chat.Deny}, false, fmt.Errorf("gate: show prompt: %w", err)
	}
	timer := time.NewTimer(g.timeout)
	defer timer.Stop()
	var a answer
	expired := false
	select {
	case a = <-ch:
	case <-timer.C:
		expired = true
	case <-ctx.Done():
		expired = true
	}
	if expired {
		// Whoever takes the pending record decides it. If an answer won the
		// race, it has been or is being delivered to ch.
		if _, took, err := g.store.TakePending(context.WithoutCancel(ctx), p.ID); err == nil && !took {
			select {
			case a = <-ch:
				expired = false
			case <-time.After(2 * time.Second):
			}
		}
		if expired {
			a = answer{d: chat.Deny}
		}
	}
	bg := context.WithoutCancel(ctx)
	if rc, ok := c.(chat.ResolvingConversation); ok {
		if err := rc.Resolved(bg, p, a.d, a.by, expired); err != nil {
			g.log.Warn("update resolved prompt", "prompt", p.ID, "err", err)
		}
	}
	return a, expired, nil
}

// Answer applies a user's answer to a pending prompt. Only the asked user
// with the prompt's nonce can answer; the first valid answer wins. Session
// and always grants are stored here, so a grant is kept even if the replica
// that asked is gone.
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
		_ = g.store.AppendAudit(ctx, state.AuditEvent{At: g.now(), User: a.User, Type: "refused_answer", Kind: p.Kind,
			App: p.Target, Requester: p.Requester, Decision: string(a.Decision), Detail: "prompt " + string(p.ID) + " belongs to " + string(p.User)})
		return chat.ErrNotYours
	}
	if _, took, err := g.store.TakePending(ctx, a.Prompt); err != nil {
		return fmt.Errorf("gate: take prompt: %w", err)
	} else if !took {
		return chat.ErrUnknownPrompt
	}
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
			if err := g.store.PutGrant(ctx, g2); err != nil {
				return fmt.Errorf("gate: store grant: %w", err)
			}
		}
	}
	if reads {
		if err := g.store.PutGrant(ctx, readsGrant(p.User, readsApp, g.now())); err != nil {
			return fmt.Errorf("gate: store grant: %w", err)
		}
		g.audit(ctx, Request{User: p.User, Kind: chat.KindExec, Target: readsApp, Function: chat.ReadsFunction}, string(chat.AllowAlways),
			"every planned read of "+string(readsApp)+", chosen on plan prompt "+string(p.ID))
		// The plan itself is allowed once; what stays is the grant.
		a.Decision = chat.AllowOnce
	}
	if g.deliver(p.ID, answer{a.Decision, a.User}) {
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
		return fmt.Errorf("gate: relay answer: %w", err)
	}
	return nil
}

func (g *Gate) audit(ctx context.Context, r Request, decision, detail string) {
	d := r.Data
	if len(d) > 2000 {
		d = d[:2000] + "…"
	}
	if detail != "" {
		d = detail + "; data: " + d
	}
	err := g.store.AppendAudit(ctx, state.AuditEvent{At: g.now(), User: r.User, Type: "decision", Kind: r.Kind,
		App: r.Target, Requester: r.Requester, Decision: decision, Detail: d})
	if err != nil {
		g.log.Error("append audit", "err", err)
	}
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
