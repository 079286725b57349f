package hub

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/secgpt-go/secgpt/core/chat"
)

// replyOut is where a turn's reply goes: one Reply, or, when the responder
// streams and the conversation can show a growing reply, a stream opened
// when the responder's first words arrive and finished with the whole
// reply (the responder's text and everything the hub adds to it).
//
// The conversation is the hub's neutralising wrapper, so every update is
// neutralised like the final text. A replyOut is used from the turn's
// goroutine only.
type replyOut struct {
	c chat.Conversation
	s chat.ReplyStream // nil until the first piece
	// off: the conversation cannot stream, or opening the stream failed;
	// the reply is posted whole.
	off  bool
	text string // the responder's text so far
}

// streams reports whether pieces are worth producing: the conversation
// can show them.
func (o *replyOut) streams() bool {
	if o == nil || o.off {
		return false
	}
	return canStream(o.c)
}

// canStream reports whether c shows a growing reply. The hub's neutral
// wrapper offers streaming on every conversation (and answers
// chat.ErrNotSupported when the one below cannot), so wrappers are looked
// through: a model that streams is asked to only when it is seen.
func canStream(c chat.Conversation) bool {
	for c != nil {
		if u, ok := c.(interface{ Unwrap() chat.Conversation }); ok {
			c = u.Unwrap()
			continue
		}
		_, ok := c.(chat.StreamingConversation)
		return ok
	}
	return false
}

// show shows text as the responder's answer so far. A platform that
// refuses an update costs only that update: Finish shows everything. Text
// equal to what is shown is not sent again. Only the context's end is
// returned, which stops the model call.
func (o *replyOut) show(ctx context.Context, text string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !o.streams() || text == o.text {
		return nil
	}
	o.text = text
	if o.s == nil {
		sc, ok := o.c.(chat.StreamingConversation)
		if !ok {
			o.off = true
			return nil
		}
		s, err := sc.StreamReply(ctx)
		if err != nil {
			// Not supported underneath the wrapper, or the placeholder
			// could not be posted: the reply goes out whole.
			o.off = true
			return nil
		}
		o.s = s
	}
	_ = o.s.Update(ctx, settled(o.text))
	return nil
}

// settled is text without an end that the next piece may still change the
// meaning of: a rune cut in two, or a CR that may start a CRLF. Shown as
// they are, the neutraliser would escape them in this update only.
func settled(text string) string {
	for i := 1; i <= utf8.UTFMax && i <= len(text); i++ {
		c := text[len(text)-i]
		if c < utf8.RuneSelf {
			break
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRuneInString(text[len(text)-i:]) {
				text = text[:len(text)-i]
			}
			break
		}
	}
	return strings.TrimSuffix(text, "\r")
}

// restart forgets the text streamed so far: the model call it came from
// failed, and the final text replaces it.
func (o *replyOut) restart() {
	if o != nil {
		o.text = ""
	}
}

// finish shows the whole reply: it ends the stream when one was opened,
// and posts the reply otherwise.
func (o *replyOut) finish(ctx context.Context, text string) error {
	if o.s == nil {
		return o.c.Reply(ctx, text)
	}
	if err := o.s.Finish(ctx, text); err != nil {
		return fmt.Errorf("finish streamed reply: %w", err)
	}
	return nil
}
