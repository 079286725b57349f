package matrix

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/format"
	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// typingTimeout is how long one typing notification lasts; it is renewed
// before it runs out while the assistant works.
const typingTimeout = 30 * time.Second

// conversation is one place the assistant answers in: a room, and in rooms a
// thread. It implements chat.ResolvingConversation and chat.StatusConversation.
type conversation struct {
	a    *Adapter
	room id.RoomID
	// thread is the thread root answers go to, or "" for the main timeline.
	thread id.EventID
	// request is the user's message this conversation answers (kept with
	// its prompts, to pick the request up again after a restart).
	request chat.Message
	// threadRel is the thread relation's name in events sent to thread:
	// m.thread or io.element.thread, as the user's message had it (or, for
	// a thread the bot starts, as the homeserver's clients use).
	threadRel event.RelationType
	// trigger is the user's message; answers outside threads reply to it.
	trigger id.EventID
	user    id.UserID

	mu sync.Mutex // guards all following fields
	// last is the latest event the bot posted in the thread (reply fallback).
	last id.EventID
	// typing is whether the bot should show as typing; paused while a
	// prompt waits for the user.
	typing bool
}

// id is the ConversationID: "matrix:<room>" or "matrix:<room>/<thread root>".
func (c *conversation) id() ids.ConversationID {
	if c.thread == "" {
		return ids.ConversationID(platform + string(c.room))
	}
	return ids.ConversationID(platform + string(c.room) + "/" + string(c.thread))
}

// Reply posts text (markdown) as one or more messages.
func (c *conversation) Reply(ctx context.Context, text string) error {
	for _, chunk := range splitMarkdown(text, maxChunk) {
		content := renderMarkdown(chunk)
		if err := c.send(ctx, content); err != nil {
			return fmt.Errorf("post matrix reply: %w", err)
		}
	}
	return nil
}

// Status shows the bot as typing while text is non-empty.
func (c *conversation) Status(ctx context.Context, text string) error {
	c.mu.Lock()
	c.typing = text != ""
	on := c.typing
	c.mu.Unlock()
	return c.setTyping(ctx, on)
}

// Prompt posts the permission request, remembers it, and pre-reacts with one
// emoji per choice so the asked user can answer with a click.
// TakesTypedAnswers: a Matrix user answers an app's question with a
// message in the prompt's thread (or a reply to it).
func (c *conversation) TakesTypedAnswers() bool { return true }

func (c *conversation) Prompt(ctx context.Context, p chat.Prompt) error {
	asked := matrixUser(p.User)
	content := renderPrompt(p, asked, nil)
	// Not cut short by a shutdown: a prompt the server has stored while
	// the bot stopped waiting for its answer would stay on screen,
	// unknown to the bot and never edited to say it was not decided.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	evtID, err := c.sendID(sctx, content)
	cancel()
	if err != nil {
		return fmt.Errorf("post matrix prompt %s: %w", p.ID, err)
	}
	c.a.mu.Lock()
	c.a.prompts[evtID] = &shownPrompt{p: p, conv: c, event: evtID, asked: asked}
	c.a.promptEvents[p.ID] = evtID
	c.a.mu.Unlock()
	c.a.savePrompt(c, p, evtID, asked)
	defer c.saveReactions(evtID, p)

	c.mu.Lock()
	c.typing = false // waiting for the user now, not working
	c.mu.Unlock()
	_ = c.setTyping(ctx, false)

	for _, ch := range promptChoices(p) {
		txn := txnID()
		var resp *mautrix.RespSendEvent
		err := retry(ctx, c.a.cfg.RetryBase, c.a.cfg.RetryMax, func(ctx context.Context) (err error) {
			content := event.ReactionEventContent{RelatesTo: *(&event.RelatesTo{}).SetAnnotation(evtID, ch.emoji)}
			resp, err = c.a.cli.SendMessageEvent(ctx, c.room, event.EventReaction, &content, mautrix.ReqSendEvent{TransactionID: txn})
			return err
		})
		if err != nil {
			// The legend and text replies still work without the reactions.
			c.a.log.Warn("pre-react to matrix prompt", "prompt", p.ID, "err", err)
			break
		}
		c.a.mu.Lock()
		c.a.reactions[p.ID] = append(c.a.reactions[p.ID], resp.EventID)
		c.a.mu.Unlock()
	}
	return nil
}

// removeReactions redacts the reactions the bot put under a decided
// prompt, so the choices no longer look open. Best effort.
func (c *conversation) removeReactions(ctx context.Context, p chat.Prompt) {
	c.a.mu.Lock()
	evts := c.a.reactions[p.ID]
	delete(c.a.reactions, p.ID)
	c.a.mu.Unlock()
	for _, e := range evts {
		err := retry(ctx, c.a.cfg.RetryBase, c.a.cfg.RetryMax, func(ctx context.Context) error {
			_, err := c.a.cli.RedactEvent(ctx, c.room, e, mautrix.ReqRedact{Reason: "permission request decided"})
			return err
		})
		if err != nil {
			c.a.log.Warn("remove reaction from decided matrix prompt", "prompt", p.ID, "err", err)
			return
		}
	}
}

// saveReactions records the choice reactions put under a prompt, so a
// restarted bot can remove them when it closes the prompt.
func (c *conversation) saveReactions(evt id.EventID, p chat.Prompt) {
	c.a.mu.Lock()
	rs := append([]id.EventID(nil), c.a.reactions[p.ID]...)
	c.a.mu.Unlock()
	err := c.a.pending.change(evt, func(sp *savedPrompt) bool {
		if sp.Event == "" {
			return false // resolved meanwhile
		}
		sp.Reactions = rs
		return true
	})
	if err != nil {
		c.a.log.Warn("matrix prompt reactions not saved", "prompt", p.ID, "err", err)
	}
}

// Resolved edits the prompt to show the decision and who made it. An
// expiry during shutdown (the run's context ended) is shown as such: the
// hub denies the prompt either way, but "no answer in time" would be
// untrue.
func (c *conversation) Resolved(ctx context.Context, p chat.Prompt, d chat.Decision, by ids.UserID, expired bool) error {
	c.a.mu.Lock()
	evtID, ok := c.a.promptEvents[p.ID]
	delete(c.a.promptEvents, p.ID)
	delete(c.a.prompts, evtID)
	c.a.mu.Unlock()
	if !ok {
		return fmt.Errorf("resolve matrix prompt %s: not shown here", p.ID)
	}
	c.a.forgetPrompt(evtID)
	res := &resolution{decision: d, by: matrixUser(by), expired: expired}
	if res.by == "" && by != "" {
		res.byText = string(by)
	}
	if expired && c.a.runCtx != nil && c.a.runCtx.Err() != nil {
		res.expired, res.shutdown = false, true
	}
	return c.showOutcome(ctx, p, evtID, res)
}

// showOutcome edits prompt evtID to show res and removes the choice
// reactions.
func (c *conversation) showOutcome(ctx context.Context, p chat.Prompt, evtID id.EventID, res *resolution) error {
	content := renderPrompt(p, matrixUser(p.User), res)
	content.SetEdit(evtID)
	// Clients without edits show the fallback: one readable line saying
	// what was decided, not the whole prompt again behind a "* ".
	summary := outcomeLine(p, res)
	content.Body, content.Format, content.FormattedBody = "* "+summary, "", ""
	if err := c.send(ctx, content); err != nil {
		return fmt.Errorf("edit matrix prompt %s: %w", p.ID, err)
	}
	c.removeReactions(ctx, p)
	c.mu.Lock()
	c.typing = true // the assistant goes back to work
	c.mu.Unlock()
	return nil
}

// send posts content into the conversation (thread or reply), retrying on
// rate limits with one transaction ID so a retry never posts twice.
func (c *conversation) send(ctx context.Context, content *event.MessageEventContent) error {
	_, err := c.sendID(ctx, content)
	return err
}

func (c *conversation) sendID(ctx context.Context, content *event.MessageEventContent) (id.EventID, error) {
	if ctx.Err() != nil && c.a.runCtx != nil && c.a.runCtx.Err() != nil {
		// Shutting down: what the assistant still says (the closing reply
		// of a query cut short) is delivered, not dropped with the
		// cancelled context. Run waits for the handlers, so the client is
		// still up.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
	}
	if content.NewContent == nil { // edits keep the original's relation
		c.mu.Lock()
		last := c.last
		c.mu.Unlock()
		switch {
		case c.thread != "":
			fallback := last
			if fallback == "" {
				fallback = c.trigger
			}
			content.RelatesTo = (&event.RelatesTo{}).SetThread(c.thread, fallback)
			if c.threadRel != "" {
				content.RelatesTo.Type = c.threadRel
			}
		case c.trigger != "":
			content.RelatesTo = (&event.RelatesTo{}).SetReplyTo(c.trigger)
		}
	}
	txn := txnID()
	var resp *mautrix.RespSendEvent
	err := retry(ctx, c.a.cfg.RetryBase, c.a.cfg.RetryMax, func(ctx context.Context) (err error) {
		resp, err = c.a.cli.SendMessageEvent(ctx, c.room, event.EventMessage, content, mautrix.ReqSendEvent{TransactionID: txn})
		return err
	})
	if err != nil {
		return "", err
	}
	if content.NewContent == nil {
		c.mu.Lock()
		c.last = resp.EventID
		c.mu.Unlock()
	}
	return resp.EventID, nil
}

// startTyping shows the bot as typing until the returned stop is called,
// renewing the notification while the assistant works.
func (c *conversation) startTyping(ctx context.Context) (stop func()) {
	c.mu.Lock()
	c.typing = true
	c.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(typingTimeout * 2 / 3)
		defer t.Stop()
		for {
			c.mu.Lock()
			on := c.typing
			c.mu.Unlock()
			if on {
				_ = c.setTyping(ctx, true)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
		// The run context may be over already; clearing typing is best effort.
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer ccancel()
		_ = c.setTyping(cctx, false)
	}
}

func (c *conversation) setTyping(ctx context.Context, on bool) error {
	_, err := c.a.cli.UserTyping(ctx, c.room, on, typingTimeout)
	if err != nil && !errors.Is(err, context.Canceled) {
		c.a.log.Debug("matrix typing notification", "room", c.room, "err", err)
	}
	return err
}

// maxChunk is the most markdown one message carries. Matrix events are
// limited to 64 KiB including the HTML copy and the JSON escaping, so a
// chunk stays well below a quarter of that.
const maxChunk = 12000

// renderMarkdown turns markdown into a message with an HTML formatted body.
// Raw HTML in the text is escaped, not passed through: answers may quote
// what apps returned, and that must not inject markup.
func renderMarkdown(text string) *event.MessageEventContent {
	content := format.RenderMarkdown(unmaskLinks(text), true, false)
	// m.notice: what a bot says, so other bots (and this one) never take
	// an answer for a request.
	content.MsgType = event.MsgNotice
	if content.Mentions == nil {
		content.Mentions = &event.Mentions{}
	}
	return &content
}

// mdLinkRE matches an inline markdown link [text](url "title").
var mdLinkRE = regexp.MustCompile(`(!?)\[([^\[\]]*)\]\(\s*<?([^\s()<>]+)>?(?:\s+"[^"]*")?\s*\)`)

// unmaskLinks rewrites a link whose text names another host than its
// target ("[paypal.com](https://evil.example)") as the text followed by
// the real target, so no link in an answer can show one address and go to
// another.
func unmaskLinks(md string) string {
	if !strings.Contains(md, "](") {
		return md
	}
	return mdLinkRE.ReplaceAllStringFunc(md, func(m string) string {
		sub := mdLinkRE.FindStringSubmatch(m)
		if sub[1] != "" || !chat.MisleadingLink(sub[2], sub[3]) {
			return m
		}
		return sub[2] + " (<" + sub[3] + ">)"
	})
}

func noticeContent(text string) *event.MessageEventContent {
	return &event.MessageEventContent{MsgType: event.MsgNotice, Body: text, Mentions: &event.Mentions{}}
}

// splitMarkdown cuts text into pieces of at most max bytes, preferring
// paragraph, then line, then word boundaries, never splitting a UTF-8
// sequence, and closing and reopening a code fence cut in two.
func splitMarkdown(text string, max int) []string {
	if len(text) <= max {
		return []string{text}
	}
	var out []string
	fence := "" // the fence line open at the start of the rest, if any
	for text != "" {
		budget := max
		prefix := ""
		if fence != "" {
			prefix = fence + "\n"
			budget -= len(prefix)
		}
		if len(text)+len(prefix) <= max {
			out = append(out, prefix+text)
			break
		}
		budget -= 4 // room for a closing "\n```"
		cut := cutPoint(text, budget)
		chunk := text[:cut]
		text = strings.TrimLeft(text[cut:], "\n")
		open := openFence(fence, chunk)
		piece := prefix + strings.TrimRight(chunk, "\n")
		if open != "" {
			piece += "\n```"
		}
		out = append(out, piece)
		if len(open) > max/4 {
			open = "```" // a long info string would not fit the next piece
		}
		fence = open
	}
	return out
}

// cutPoint picks where to cut s so that s[:cut] fits in n bytes (n > 0).
func cutPoint(s string, n int) int {
	if n < 1 {
		n = 1
	}
	if n >= len(s) {
		return len(s)
	}
	for _, sep := range []string{"\n\n", "\n", " "} {
		if i := strings.LastIndex(s[:n], sep); i > n/2 {
			return i + len(sep)
		}
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 { // inside a UTF-8 sequence
		n--
	}
	if n == 0 {
		n = 1
	}
	return n
}

// openFence returns the code fence line still open after chunk, given the
// one open before it ("" if none).
func openFence(open, chunk string) string {
	for _, line := range strings.Split(chunk, "\n") {
		t := strings.TrimSpace(line)
		if !strings.HasPrefix(t, "```") {
			continue
		}
		if open == "" {
			open = t
		} else if t == "```" {
			open = ""
		}
	}
	return open
}

// txnID makes a fresh transaction ID; a request retried with the same one is
// deduplicated by the homeserver.
func txnID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "secgpt." + hex.EncodeToString(b[:])
}

var (
	_ chat.ResolvingConversation = (*conversation)(nil)
	_ chat.StatusConversation    = (*conversation)(nil)
)
