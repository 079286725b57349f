//go:build goolm || libolm

package matrix

import (
	"errors"
	"fmt"
	"time"

	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/event"
)

// undecryptableEvery bounds the notices about unreadable messages to one
// per sender and room in this time: a client that withholds keys does so
// for every message.
const undecryptableEvery = 10 * time.Minute

// onDecryptError is the crypto helper's callback for a message the bot
// cannot decrypt (after waiting for its key). Staying silent would leave
// the person waiting for an answer that never comes, so the bot says why,
// as far as it knows: a key withheld by the sender's client (most often
// because the bot's device is not verified), or a key that never arrived.
func (a *Adapter) onDecryptError(h *cryptohelper.CryptoHelper, evt *event.Event, derr error) {
	a.log.Warn("cannot decrypt matrix event", "room", evt.RoomID, "event", evt.ID, "sender", evt.Sender, "err", derr)
	ctx := a.runCtx
	if ctx == nil || ctx.Err() != nil || evt.Sender == a.cli.UserID || !a.cfg.allowed(evt.Sender) {
		return
	}
	if !a.tellAgain(string(evt.RoomID)+"\x00"+string(evt.Sender), undecryptableEvery) {
		return
	}
	msg := fmt.Sprintf("%s: I can't read your message: the key to decrypt it never reached my device. Please send it again; if this keeps happening, your client may not be sharing keys with me.", evt.Sender)
	if errors.Is(derr, crypto.ErrGroupSessionWithheld) {
		code := event.RoomKeyWithheldCode("")
		content := evt.Content.AsEncrypted()
		if w, err := h.Machine().CryptoStore.GetWithheldGroupSession(ctx, evt.RoomID, content.SessionID); err == nil && w != nil {
			code = w.Code
		}
		msg = withheldNotice(string(evt.Sender), code)
	}
	c := &conversation{a: a, room: evt.RoomID, trigger: evt.ID, user: evt.Sender}
	if err := c.send(ctx, noticeContent(msg)); err != nil {
		a.log.Warn("post matrix notice", "room", evt.RoomID, "err", err)
	}
}

// withheldNotice explains a key the sender's client withheld, by its code.
func withheldNotice(sender string, code event.RoomKeyWithheldCode) string {
	why := "your client withheld the key to decrypt it"
	switch code {
	case event.RoomKeyWithheldUnverified:
		why = "your client did not share the key with my device because it is not verified (the room or your client is set to send keys only to verified devices). " +
			"Verify my device by emoji (Verify on my profile, from a direct message with me), ask the operator to cross-sign the bot (see docs/matrix.md), or allow unverified devices in this room"
	case event.RoomKeyWithheldBlacklisted:
		why = "your client has blocked my device from receiving keys"
	case event.RoomKeyWithheldUnauthorized, event.RoomKeyWithheldUnavailable, event.RoomKeyWithheldNoOlmSession:
		why = "your client withheld the key to decrypt it (" + string(code) + ")"
	}
	return sender + ": I can't read your message: " + why + "."
}
