package invariants

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// user is the scripted user's side of one conversation: it records what the
// hub shows and answers each prompt at random (once, session, always, deny),
// sometimes after the prompt has expired, sometimes after another user has
// clicked first.
type user struct {
	id    ids.UserID
	other ids.UserID // who clicks first when someone else does
	a     chat.Assistant
	rec   *recorder
	late  time.Duration // how late a late answer is

	mu  sync.Mutex // guards rng
	rng *rand.Rand

	clicks sync.WaitGroup
}

func (u *user) Reply(_ context.Context, text string) error {
	u.rec.add(&event{kind: evReply, user: u.id, text: text})
	return nil
}

// commandConv is the user's conversation as a command is handled: its
// replies are marked as the command's.
type commandConv struct{ *user }

func (c commandConv) Reply(_ context.Context, text string) error {
	c.rec.add(&event{kind: evReply, user: c.id, text: text, command: true})
	return nil
}

func (u *user) Prompt(ctx context.Context, p chat.Prompt) error {
	pc := p
	u.rec.add(&event{kind: evPrompt, user: u.id, prompt: &pc, text: promptText(p)})
	u.mu.Lock()
	r := u.rng.IntN(100)
	var d chat.Decision
	switch {
	case r < 35:
		d = chat.AllowOnce
	case r < 50:
		d = chat.AllowSession
	case r < 62:
		d = chat.AllowAlways
	default:
		d = chat.Deny
	}
	if p.Kind == kindPlan && u.rng.IntN(100) < 15 {
		// Decide the plan's parts one by one (a hub with plan prompts
		// offers it as a fifth choice).
		d = chat.Decision("review")
	}
	if p.ReadsApp != "" && d != chat.Review && u.rng.IntN(2) == 0 {
		d = chat.AllowReads(p.ReadsApp) // check_reads.go
	}
	late := u.rng.IntN(100) < 6
	intruder := u.rng.IntN(100) < 15
	intruderD := chat.Decisions[u.rng.IntN(len(chat.Decisions))]
	u.mu.Unlock()
	bg := context.WithoutCancel(ctx)
	u.clicks.Add(1)
	go func() {
		defer u.clicks.Done()
		if intruder {
			e := u.rec.add(&event{kind: evAnswer, user: u.other, prompt: &pc, decision: intruderD})
			err := u.a.Answer(bg, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: u.other, Decision: intruderD})
			u.rec.update(func() { e.ok = err == nil })
		}
		if late {
			time.Sleep(u.late)
		}
		e := u.rec.add(&event{kind: evAnswer, user: u.id, prompt: &pc, decision: d})
		err := u.a.Answer(bg, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: u.id, Decision: d})
		// ErrAskAgain: the prompt was no longer waited for, but the answer
		// (and a session or always grant) was recorded.
		u.rec.update(func() { e.ok = err == nil || errors.Is(err, chat.ErrAskAgain) })
	}()
	return nil
}

func (u *user) Resolved(_ context.Context, p chat.Prompt, d chat.Decision, by ids.UserID, expired bool) error {
	pc := p
	u.rec.add(&event{kind: evResolved, user: u.id, prompt: &pc, decision: d, by: by, expired: expired})
	return nil
}

// promptText is everything of a prompt an adapter may render.
func promptText(p chat.Prompt) string {
	return chat.PromptText(p) + "\n" + string(p.Requester) + "\n" + string(p.Target) + "\n" + p.Function + "\n" + chat.PromptWarning(p)
}

var _ chat.ResolvingConversation = (*user)(nil)
