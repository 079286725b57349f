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
}

// Key returns the grant key the request is decided under.
func (r Request) Key() state.GrantKey {
	return state.GrantKey{User: r.User, Kind: r.Kind, Requester: r.Requester, Target: r.Target}
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
	return &Gate{store: store, relay: o.Relay, replica: o.ReplicaID, live: o.Liveness, timeout: o.Timeout, now: o.Now, log: o.Logger, waiters: map[ids.PromptID]chan answer{}}
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
	gr, ok, err := g.store.FindGrant(ctx, r.Key(), r.Session)
	if err != nil {
		return chat.Deny, fmt.Errorf("gate: look up grant: %w", err)
	}
	if ok {
		g.audit(ctx, r, "grant:"+string(gr.Decision), "")
		return gr.Decision, nil
	}
	return g.ask(ctx, c, r)
}

// Stored reports whether a stored grant allows r, without prompting.
func (g *Gate) Stored(ctx context.Context, r Request) (bool, error) {
	_, ok, err := g.store.FindGrant(ctx, r.Key(), r.Session)
	return ok, err
}

func (g *Gate) ask(ctx context.Context, c chat.Conversation, r Request) (chat.Decision, error) {
	p := chat.Prompt{
		ID:           ids.PromptID(randomHex(12)),
		Nonce:        randomToken(24),
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
		ExpiresAt:    g.now().Add(g.timeout),
		Replica:      g.replica,
	}
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
		return chat.Deny, fmt.Errorf("gate: record prompt: %w", err)
	}
	if err := c.Prompt(ctx, p); err != nil {
		_, _, _ = g.store.TakePending(context.WithoutCancel(ctx), p.ID)
		g.audit(ctx, r, string(chat.Deny), "prompt could not be shown: "+err.Error())
		return chat.Deny, fmt.Errorf("gate: show prompt: %w", err)
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
	detail := "answered by " + string(a.by)
	if expired {
		detail = "no answer in time: denied"
	}
	g.audit(bg, r, string(a.d), detail)
	return a.d, nil
}

// Answer applies a user's answer to a pending prompt. Only the asked user
// with the prompt's nonce can answer; the first valid answer wins. Session
// and always grants are stored here, so a grant is kept even if the replica
// that asked is gone.
func (g *Gate) Answer(ctx context.Context, a chat.Answer) error {
	if !a.Decision.Valid() {
		return fmt.Errorf("gate: invalid decision %q", a.Decision)
	}
	p, ok, err := g.store.GetPending(ctx, a.Prompt)
	if err != nil {
		return fmt.Errorf("gate: look up prompt: %w", err)
	}
	if !ok || subtle.ConstantTimeCompare([]byte(p.Nonce), []byte(a.Nonce)) != 1 {
		return chat.ErrUnknownPrompt
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
		g2 := state.Grant{GrantKey: state.GrantKey{User: p.User, Kind: p.Kind, Requester: p.Requester, Target: p.Target},
			Decision: a.Decision, At: g.now()}
		if a.Decision == chat.AllowSession {
			g2.Session = p.Session
		}
		if err := g.store.PutGrant(ctx, g2); err != nil {
			return fmt.Errorf("gate: store grant: %w", err)
		}
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
