//go:build goolm || libolm

package matrix

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"maunium.net/go/mautrix/crypto"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/crypto/verificationhelper"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// verifier lets a person verify the bot's device by comparing emoji (SAS,
// mautrix's verificationhelper): someone on the allow-list starts a
// verification in a room with the bot (a client's "Verify" on the bot's
// profile in a DM), the bot accepts, shows the emoji in that room as text,
// and confirms when that person answers "verify yes" there. Only in-room
// requests: a to-device request (verifying "this session" from another
// login of the bot's own account) has no room to show the emoji in and no
// one who could answer there, so it is cancelled with a reason.
//
// The helper calls the callbacks with its lock held, so every call back
// into it, and every message, happens in a goroutine.
type verifier struct {
	a    *Adapter
	vh   *verificationhelper.VerificationHelper
	mach *crypto.OlmMachine

	mu sync.Mutex // guards the maps
	// rooms are the in-room requests seen: transaction → room and person.
	rooms map[id.VerificationTransactionID]verifyTxn
	// waiting are the SAS shown and not yet answered, by room and person.
	waiting map[verifyTxn]id.VerificationTransactionID
	// confirming are the transactions whose ConfirmSAS runs now: a
	// partner MAC arriving meanwhile (a late decryption, another
	// goroutine) is still held.
	confirming map[id.VerificationTransactionID]bool
	// held are partner MACs that came before the person's answer here;
	// see hold.
	held map[id.VerificationTransactionID]*event.Event
}

type verifyTxn struct {
	room id.RoomID
	user id.UserID
}

// initVerification registers the verification handlers; it must run before
// syncing starts.
func (a *Adapter) initVerification(ctx context.Context, h *cryptohelper.CryptoHelper) error {
	v := &verifier{a: a, mach: h.Machine(), rooms: map[id.VerificationTransactionID]verifyTxn{}, waiting: map[verifyTxn]id.VerificationTransactionID{},
		confirming: map[id.VerificationTransactionID]bool{}, held: map[id.VerificationTransactionID]*event.Event{}}
	// Registered before the helper's own handler, so the room of a request
	// is known when VerificationRequested runs.
	a.cli.Syncer.(*syncer).OnEventType(event.EventMessage, v.noteRequest)
	v.vh = verificationhelper.NewVerificationHelper(a.cli, h.Machine(), nil, v, false, false, true)
	if err := v.vh.Init(ctx); err != nil {
		return fmt.Errorf("init device verification: %w", err)
	}
	a.verify = v
	return nil
}

func (v *verifier) noteRequest(_ context.Context, evt *event.Event) {
	msg := evt.Content.AsMessage()
	if evt.Sender == v.a.cli.UserID || msg.MsgType != event.MsgVerificationRequest || msg.To != v.a.cli.UserID {
		return // the helper ignores requests to others too
	}
	v.mu.Lock()
	v.rooms[id.VerificationTransactionID(evt.ID)] = verifyTxn{room: evt.RoomID, user: evt.Sender}
	v.mu.Unlock()
}

// later runs f outside the helper's lock, tracked like a message handler.
func (v *verifier) later(f func(ctx context.Context)) {
	v.a.handlers.Add(1)
	go func() {
		defer v.a.handlers.Done()
		f(v.a.runCtx)
	}()
}

func (v *verifier) notice(ctx context.Context, room id.RoomID, text string) {
	c := &conversation{a: v.a, room: room}
	if err := c.send(ctx, noticeContent(text)); err != nil {
		v.a.log.Warn("post matrix verification notice", "room", room, "err", err)
	}
}

// VerificationRequested accepts a request from an allowed user made in a
// room; anything else is cancelled with a reason.
func (v *verifier) VerificationRequested(_ context.Context, txn id.VerificationTransactionID, from id.UserID, fromDevice id.DeviceID) {
	v.mu.Lock()
	t, inRoom := v.rooms[txn]
	v.mu.Unlock()
	log := v.a.log.With("transaction", txn, "from", from, "device", fromDevice)
	v.later(func(ctx context.Context) {
		var reason string
		switch {
		case !v.a.cfg.allowed(from):
			reason = "you are not on this bot's allow-list"
		case !inRoom:
			reason = "start the verification from a room with the bot (a direct message): it shows the emoji there"
		case !v.hasSigningKeys():
			// Without its private cross-signing keys the bot cannot sign
			// the person's master key at the end, and the helper would
			// cancel then, after the emoji were compared.
			reason = "this bot's device has no cross-signing keys loaded, so it cannot verify anyone; " +
				"its operator must set matrix.recovery_key (see the bot's log)"
		}
		if reason != "" {
			log.Info("matrix verification request refused", "reason", reason)
			if err := v.vh.CancelVerification(ctx, txn, event.VerificationCancelCodeUser, reason); err != nil {
				log.Warn("cancel matrix verification", "err", err)
			}
			return
		}
		log.Info("matrix verification request accepted", "room", t.room)
		if err := v.vh.AcceptVerification(ctx, txn); err != nil {
			log.Warn("accept matrix verification", "err", err)
		}
	})
}

// VerificationReady: the person's client starts the emoji comparison.
func (v *verifier) VerificationReady(context.Context, id.VerificationTransactionID, id.DeviceID, bool, bool, *verificationhelper.QRCode) {
}

// ShowSAS posts the emoji (and the numbers) in the request's room and
// waits for the person's "verify yes" or "verify no" there.
func (v *verifier) ShowSAS(_ context.Context, txn id.VerificationTransactionID, emojis []rune, descriptions []string, decimals []int) {
	v.mu.Lock()
	t, ok := v.rooms[txn]
	if ok {
		v.waiting[t] = txn
	}
	v.mu.Unlock()
	if !ok {
		return
	}
	_, device := v.a.Session()
	var b strings.Builder
	fmt.Fprintf(&b, "Verifying my device %s with %s. Compare these emoji with the ones your client shows, in this order:\n\n", device, t.user)
	for i, e := range emojis {
		if i > 0 {
			b.WriteString("  ")
		}
		desc := ""
		if i < len(descriptions) {
			desc = " " + descriptions[i]
		}
		fmt.Fprintf(&b, "%c%s", e, desc)
	}
	if len(decimals) > 0 {
		fmt.Fprintf(&b, "\n\n(or the numbers %s)", strings.Trim(fmt.Sprint(decimals), "[]"))
	}
	shown := b.String()
	v.later(func(ctx context.Context) {
		// In a DM the bare words do; elsewhere they follow the prefix.
		yes, no := "verify yes", "verify no"
		if !v.a.isDM(ctx, t.room) {
			yes, no = v.a.verifyCommand("yes"), v.a.verifyCommand("no")
		}
		v.notice(ctx, t.room, fmt.Sprintf("%s\n\nIf they are the same, confirm on your client and answer %q here; if not, answer %q.", shown, yes, no))
	})
}

// VerificationDone says so in the room.
func (v *verifier) VerificationDone(_ context.Context, txn id.VerificationTransactionID, _ event.VerificationMethod) {
	t, ok := v.forget(txn)
	if !ok {
		return
	}
	v.a.log.Info("matrix device verified", "with", t.user, "room", t.room)
	v.later(func(ctx context.Context) {
		v.notice(ctx, t.room, "Verified: your client and my device trust each other now.")
	})
}

// VerificationCancelled says why in the room.
func (v *verifier) VerificationCancelled(_ context.Context, txn id.VerificationTransactionID, code event.VerificationCancelCode, reason string) {
	t, ok := v.forget(txn)
	if !ok {
		return
	}
	v.a.log.Info("matrix verification cancelled", "with", t.user, "code", code, "reason", reason)
	v.later(func(ctx context.Context) {
		v.notice(ctx, t.room, "Verification cancelled: "+truncateRunes(reason, 200))
	})
}

// hold keeps back the partner's MAC (evt, with its transaction's ID) while
// the SAS of its transaction waits for the person's answer here, and
// reports whether it did. mautrix v0.32's ConfirmSAS, run after the
// partner's MAC was processed, checks the bot's OWN master key against the
// partner's and cancels ("master keys do not match",
// TestMautrixSASConfirmAfterTheirMAC); a person confirms on their client
// first, so without this the bot always took that path. answer hands the
// MAC on after ConfirmSAS.
func (v *verifier) hold(evt *event.Event) bool {
	if evt.Type != event.InRoomVerificationMAC {
		return false
	}
	txn := id.VerificationTransactionID(evt.ID)
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.rooms[txn]
	if !ok || (v.waiting[t] != txn && !v.confirming[txn]) {
		return false
	}
	v.held[txn] = evt
	return true
}

// hasSigningKeys reports whether the bot holds its private user-signing key
// (bootstrapped at first start, or loaded with the recovery key).
func (v *verifier) hasSigningKeys() bool {
	k := v.mach.CrossSigningKeys
	return k != nil && k.UserSigningKey != nil
}

func (v *verifier) forget(txn id.VerificationTransactionID) (verifyTxn, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.held, txn)
	delete(v.confirming, txn)
	t, ok := v.rooms[txn]
	delete(v.rooms, txn)
	if ok && v.waiting[t] == txn {
		delete(v.waiting, t)
	}
	return t, ok
}

// answer handles "verify yes" / "verify no" (after the room prefix,
// or "!verify …" in a DM) from the person a SAS waits for in this room; it
// reports whether text was taken as such an answer. One that nothing waits
// for gets a notice when it was addressed to the bot (or in a DM), and is
// left alone otherwise.
func (v *verifier) answer(ctx context.Context, evt *event.Event, text string, addressed bool) bool {
	a := v.a
	yes, ok := parseVerify(text)
	if !ok {
		return false
	}
	key := verifyTxn{room: evt.RoomID, user: evt.Sender}
	v.mu.Lock()
	txn, waiting := v.waiting[key]
	delete(v.waiting, key)
	if waiting && yes {
		v.confirming[txn] = true
	}
	v.mu.Unlock()
	if !waiting {
		if !addressed && !a.isDM(ctx, evt.RoomID) {
			return false
		}
		v.notice(ctx, evt.RoomID, "No verification is waiting for your answer here.")
		return true
	}
	if yes {
		err := v.vh.ConfirmSAS(ctx, txn)
		v.mu.Lock()
		mac := v.held[txn]
		delete(v.held, txn)
		delete(v.confirming, txn)
		v.mu.Unlock()
		if err != nil {
			a.log.Warn("confirm matrix verification", "err", err)
			v.forget(txn)
			if cerr := v.vh.CancelVerification(ctx, txn, event.VerificationCancelCodeUser, "the bot could not confirm: "+err.Error()); cerr != nil {
				a.log.Warn("cancel matrix verification", "err", cerr)
			}
			v.notice(ctx, evt.RoomID, "I could not complete the verification ("+truncateRunes(err.Error(), 200)+"); nothing was verified. Start it again.")
			return true
		}
		// Now that our MAC is out, the partner's MAC takes the helper's
		// working path (it trusts the partner's master key from it).
		if mac != nil {
			a.cli.Syncer.(*syncer).DefaultSyncer.Dispatch(ctx, mac)
		}
		return true
	}
	// The helper does not report a cancel of our own through
	// VerificationCancelled, so it is said here.
	v.forget(txn)
	if err := v.vh.CancelVerification(ctx, txn, event.VerificationCancelCodeSASMismatch, "the emoji did not match"); err != nil {
		a.log.Warn("cancel matrix verification", "err", err)
	}
	v.notice(ctx, evt.RoomID, "Verification cancelled: the emoji did not match. Nothing was verified.")
	return true
}

// verifyCommand is how a person answers a verification here: after the
// room prefix, which works in DMs and rooms alike.
func (a *Adapter) verifyCommand(answer string) string {
	if a.cfg.CommandPrefix == "" {
		return "!verify " + answer
	}
	return a.cfg.CommandPrefix + " verify " + answer
}

// parseVerify reads a verification answer: "verify yes" or "verify no",
// with or without a leading "!", in any case.
func parseVerify(text string) (yes, ok bool) {
	f := strings.Fields(strings.ToLower(strings.TrimPrefix(strings.TrimSpace(text), "!")))
	if len(f) != 2 || f[0] != "verify" {
		return false, false
	}
	switch f[1] {
	case "yes", "y":
		return true, true
	case "no", "n":
		return false, true
	}
	return false, false
}

// truncateRunes cuts s to at most n runes.
func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

var (
	_ verificationhelper.RequiredCallbacks = (*verifier)(nil)
	_ verificationhelper.ShowSASCallbacks  = (*verifier)(nil)
	_ verifyAnswerer                       = (*verifier)(nil)
)
