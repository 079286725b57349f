package matrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/internal/atomicfile"
)

// promptsFile keeps the prompts on screen in Config.StateDir, so that a
// restarted bot still knows them: a reaction or a typed answer to a prompt
// posted before the restart reaches the hub (which resumes it when its
// store still has it pending, or says it is no longer waiting), a prompt
// that expired while the bot was down is edited to say so, and a late
// answer to it is told plainly that it expired.
const promptsFile = "matrix-prompts.json"

// keepClosed is how long a prompt that expired while the bot was down is
// remembered, so that a late answer to it gets a plain reply.
const keepClosed = 24 * time.Hour

// savedPrompt is a shown prompt as the file keeps it.
type savedPrompt struct {
	Prompt    chat.Prompt        `json:"prompt"`
	Event     id.EventID         `json:"event"`
	Room      id.RoomID          `json:"room"`
	Thread    id.EventID         `json:"thread,omitempty"`
	ThreadRel event.RelationType `json:"thread_rel,omitempty"`
	Trigger   id.EventID         `json:"trigger,omitempty"`
	Asked     id.UserID          `json:"asked"`
	Reactions []id.EventID       `json:"reactions,omitempty"`
	// Request is the user's message the prompt is for, to pick it up
	// again after a restart.
	Request chat.Message `json:"request"`
	// Closed is set once the prompt was shown as expired after a restart;
	// it is kept only to answer late answers.
	Closed bool `json:"closed,omitempty"`
}

// promptStore is the prompts file, rewritten atomically on every change.
type promptStore struct {
	path string

	mu sync.Mutex // guards m and writes to path
	m  map[id.EventID]savedPrompt
}

func openPromptStore(dir string) (*promptStore, error) {
	ps := &promptStore{path: filepath.Join(dir, promptsFile), m: map[id.EventID]savedPrompt{}}
	b, err := os.ReadFile(ps.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ps, nil
	case err != nil:
		return nil, fmt.Errorf("read matrix prompts: %w", err)
	}
	var list []savedPrompt
	if err := json.Unmarshal(b, &list); err != nil {
		// Losing pending prompts is better than not starting: they then
		// expire in the hub as they would have anyway.
		return ps, fmt.Errorf("decode matrix prompts %s (starting without them): %w", ps.path, err)
	}
	for _, sp := range list {
		if sp.Event != "" && sp.Room != "" {
			ps.m[sp.Event] = sp
		}
	}
	return ps, nil
}

// list returns the saved prompts.
func (ps *promptStore) list() []savedPrompt {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make([]savedPrompt, 0, len(ps.m))
	for _, sp := range ps.m {
		out = append(out, sp)
	}
	return out
}

// get returns the saved prompt shown by evt.
func (ps *promptStore) get(evt id.EventID) (savedPrompt, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	sp, ok := ps.m[evt]
	return sp, ok
}

// change applies fn to the entry of evt (a zero entry if there is none;
// fn returns false to delete it) and writes the file. Closed entries past
// keepClosed are dropped on the way.
func (ps *promptStore) change(evt id.EventID, fn func(*savedPrompt) bool) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	sp := ps.m[evt]
	if fn(&sp) {
		ps.m[evt] = sp
	} else {
		delete(ps.m, evt)
	}
	now := time.Now()
	list := make([]savedPrompt, 0, len(ps.m))
	for e, s := range ps.m {
		if s.Closed && now.After(s.Prompt.ExpiresAt.Add(keepClosed)) {
			delete(ps.m, e)
			continue
		}
		list = append(list, s)
	}
	b, err := json.Marshal(list)
	if err != nil {
		return fmt.Errorf("encode matrix prompts: %w", err)
	}
	if err := atomicfile.Write(ps.path, b, 0o600); err != nil {
		return fmt.Errorf("write matrix prompts: %w", err)
	}
	return nil
}

// savePrompt records a prompt just shown.
func (a *Adapter) savePrompt(c *conversation, p chat.Prompt, evt id.EventID, asked id.UserID) {
	err := a.pending.change(evt, func(sp *savedPrompt) bool {
		*sp = savedPrompt{Prompt: p, Event: evt, Room: c.room, Thread: c.thread, ThreadRel: c.threadRel, Trigger: c.trigger,
			Asked: asked, Request: c.request}
		return true
	})
	if err != nil {
		a.log.Warn("matrix prompt not saved: it is lost at a restart", "prompt", p.ID, "err", err)
	}
}

// forgetPrompt removes a decided prompt from the file.
func (a *Adapter) forgetPrompt(evt id.EventID) {
	if err := a.pending.change(evt, func(*savedPrompt) bool { return false }); err != nil {
		a.log.Warn("matrix prompt not removed from the prompts file", "event", evt, "err", err)
	}
}

// restorePrompts runs at start, before syncing: prompts that expired while
// the bot was down are edited to say so; the others wait for their answer
// again (reactions and typed answers find them) until they expire.
func (a *Adapter) restorePrompts(ctx context.Context) {
	for _, s := range a.pending.list() {
		if s.Closed {
			continue
		}
		c := &conversation{a: a, room: s.Room, thread: s.Thread, threadRel: s.ThreadRel, trigger: s.Trigger, user: s.Asked, request: s.Request}
		if !s.Prompt.ExpiresAt.IsZero() && !time.Now().Before(s.Prompt.ExpiresAt) {
			a.closeRestored(ctx, c, s)
			continue
		}
		sp := &shownPrompt{p: s.Prompt, conv: c, event: s.Event, asked: s.Asked, restored: true}
		a.mu.Lock()
		a.prompts[s.Event] = sp
		a.promptEvents[s.Prompt.ID] = s.Event
		a.reactions[s.Prompt.ID] = s.Reactions
		a.mu.Unlock()
		a.log.Info("matrix prompt from before the restart is waiting again", "prompt", s.Prompt.ID, "room", s.Room)
		if !s.Prompt.ExpiresAt.IsZero() {
			a.handlers.Go(func() { a.expireRestored(sp) })
		}
	}
}

// expireRestored closes a restored prompt nobody answered by its expiry.
func (a *Adapter) expireRestored(sp *shownPrompt) {
	t := time.NewTimer(time.Until(sp.p.ExpiresAt))
	defer t.Stop()
	select {
	case <-a.runCtx.Done():
		return // still in the file: the next start closes it
	case <-t.C:
	}
	if !a.takePrompt(sp) {
		return
	}
	s, _ := a.pending.get(sp.event)
	a.closeRestored(a.runCtx, sp.conv, s)
}

// takePrompt removes sp from the prompts waiting here and reports whether
// this call did (an answer and the expiry may race).
func (a *Adapter) takePrompt(sp *shownPrompt) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.prompts[sp.event] != sp {
		return false
	}
	delete(a.prompts, sp.event)
	delete(a.promptEvents, sp.p.ID)
	return true
}

// closeRestored edits a prompt from before a restart to say it expired,
// and keeps a closed record so a late answer is told so.
func (a *Adapter) closeRestored(ctx context.Context, c *conversation, s savedPrompt) {
	a.mu.Lock()
	a.reactions[s.Prompt.ID] = s.Reactions
	a.mu.Unlock()
	if err := c.showOutcome(ctx, s.Prompt, s.Event, &resolution{decision: chat.Deny, expired: true}); err != nil {
		a.log.Warn("matrix prompt from before the restart not marked expired", "prompt", s.Prompt.ID, "err", err)
	}
	err := a.pending.change(s.Event, func(sp *savedPrompt) bool {
		if sp.Event == "" {
			*sp = s
		}
		sp.Closed = true
		return true
	})
	if err != nil {
		a.log.Warn("matrix prompt not marked closed", "prompt", s.Prompt.ID, "err", err)
	}
}

// lateAnswer tells the asked user that the prompt evt (closed after a
// restart) expired, when evt is one; it reports whether it was.
func (a *Adapter) lateAnswer(ctx context.Context, evt id.EventID, room id.RoomID, from id.UserID) bool {
	s, ok := a.pending.get(evt)
	if !ok || !s.Closed || s.Room != room {
		return false
	}
	if from != s.Asked {
		return true // not theirs to answer; nothing to say
	}
	c := &conversation{a: a, room: s.Room, thread: s.Thread, threadRel: s.ThreadRel, trigger: s.Trigger, user: s.Asked}
	msg := "That permission request expired while the assistant was restarting, so nothing was decided and nothing ran. Please send your request again."
	if err := c.send(ctx, noticeContent(msg)); err != nil {
		a.log.Warn("post matrix notice", "event", evt, "err", err)
	}
	return true
}

// answerRestored handles the hub's reply to an answer of a prompt from
// before a restart: the query that asked is gone, so either the hub still
// had the prompt pending (ErrAskAgain: the choice is stored) and the
// request is picked up again where a stored grant lets it run, or the
// prompt is no longer waiting and the user is told so.
func (a *Adapter) answerRestored(ctx context.Context, sp *shownPrompt, from id.UserID, d chat.Decision, err error) {
	if !a.takePrompt(sp) {
		return
	}
	a.forgetPrompt(sp.event)
	c := sp.conv
	switch {
	case errors.Is(err, chat.ErrAskAgain):
		if rerr := c.showOutcome(ctx, sp.p, sp.event, &resolution{decision: d, by: from}); rerr != nil {
			a.log.Warn("edit matrix prompt", "prompt", sp.p.ID, "err", rerr)
		}
		req := sp.conv.request
		switch {
		case (d == chat.AllowSession || d == chat.AllowAlways) && req.Text != "":
			// The grant is stored, so the request runs without asking.
			_ = c.send(ctx, noticeContent("Your choice was saved. The assistant restarted while waiting for it, so it is picking your request up again."))
			rc := &conversation{a: a, room: c.room, thread: c.thread, threadRel: c.threadRel, trigger: c.trigger, user: c.user, request: req}
			a.handlers.Go(func() {
				stop := rc.startTyping(a.runCtx)
				defer stop()
				a.asst.Handle(a.runCtx, req, rc)
			})
		case d.Allows():
			_ = c.send(ctx, noticeContent("The assistant restarted while waiting for this answer, so nothing ran. Please send your request again."))
		default:
			_ = c.send(ctx, noticeContent("Denied. The assistant had restarted in the meantime; nothing ran."))
		}
	default:
		if rerr := c.showOutcome(ctx, sp.p, sp.event, &resolution{decision: chat.Deny, expired: true}); rerr != nil {
			a.log.Warn("edit matrix prompt", "prompt", sp.p.ID, "err", rerr)
		}
		_ = c.send(ctx, noticeContent("This permission request is no longer waiting: the assistant restarted, so nothing was decided and nothing ran. Please send your request again."))
	}
}
