package matrix

import (
	"context"
	"encoding/json"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// verifyRefusal is the reason sent with the cancellation of a verification
// request in a build without encryption (which cannot verify anything),
// and of a to-device request there. A request left unanswered would keep
// the person's client waiting, so it is cancelled at once, saying what to
// do. Builds with encryption verify in-room requests by emoji
// (verify_on.go).
const verifyRefusal = "This bot cannot do interactive (emoji) verification here. Its device is signed by its owner's cross-signing key; " +
	"to trust it, verify the bot's identity by comparing its master key with its operator."

// onVerifyRequestInRoom cancels an in-room verification request (an
// m.room.message of msgtype m.key.verification.request addressed to the
// bot) with a reason. It is called from onMessage.
func (a *Adapter) onVerifyRequestInRoom(ctx context.Context, evt *event.Event, content *event.MessageEventContent) {
	if content.To != a.cli.UserID {
		return
	}
	a.log.Info("refusing matrix verification request", "room", evt.RoomID, "from", evt.Sender)
	cancel := &event.VerificationCancelEventContent{
		InRoomVerificationEvent: event.InRoomVerificationEvent{RelatesTo: &event.RelatesTo{Type: event.RelReference, EventID: evt.ID}},
		Code:                    event.VerificationCancelCodeUnknownMethod,
		Reason:                  verifyRefusal,
	}
	txn := txnID()
	err := retry(ctx, a.cfg.RetryBase, a.cfg.RetryMax, func(ctx context.Context) error {
		_, err := a.cli.SendMessageEvent(ctx, evt.RoomID, event.InRoomVerificationCancel, cancel, mautrix.ReqSendEvent{TransactionID: txn})
		return err
	})
	if err != nil {
		a.log.Warn("cancel matrix verification request", "room", evt.RoomID, "err", err)
	}
}

// onVerifyRequestToDevice cancels a to-device verification request with a
// reason, sent back to the requesting device.
func (a *Adapter) onVerifyRequestToDevice(ctx context.Context, evt *event.Event) {
	req, ok := evt.Content.Parsed.(*event.VerificationRequestEventContent)
	if !ok || req.TransactionID == "" || req.FromDevice == "" || !a.cfg.allowed(evt.Sender) {
		return
	}
	a.log.Info("refusing matrix verification request", "from", evt.Sender, "device", req.FromDevice)
	cancel := &event.VerificationCancelEventContent{
		ToDeviceVerificationEvent: event.ToDeviceVerificationEvent{TransactionID: req.TransactionID},
		Code:                      event.VerificationCancelCodeUnknownMethod,
		Reason:                    verifyRefusal,
	}
	msgs := &mautrix.ReqSendToDevice{Messages: map[id.UserID]map[id.DeviceID]*event.Content{
		evt.Sender: {req.FromDevice: {Parsed: cancel}},
	}}
	err := retry(ctx, a.cfg.RetryBase, a.cfg.RetryMax, func(ctx context.Context) error {
		_, err := a.cli.SendToDevice(ctx, event.ToDeviceVerificationCancel, msgs)
		return err
	})
	if err != nil {
		a.log.Warn("cancel matrix verification request", "from", evt.Sender, "err", err)
	}
}

// verifyAnswerer is the emoji verification of a build with encryption
// (verify_on.go); builds without have none.
type verifyAnswerer interface {
	// answer takes a person's typed "verify yes|no" and reports whether
	// text was such an answer.
	answer(ctx context.Context, evt *event.Event, text string, addressed bool) bool
	// hold keeps back an in-room verification event (with its
	// transaction's ID) the helper must not see yet, and reports whether
	// it did.
	hold(evt *event.Event) bool
}

// verificationTxnEvent works around two gaps in mautrix v0.32's
// verification helper for in-room verification (its tests cover only the
// to-device flow). It takes an in-room verification event's own ID as its
// transaction ID, while by the spec the transaction is the request event,
// which every later in-room event (ready, start, accept, key, mac, done,
// cancel) references with m.relates_to (rel_type m.reference); and it
// handles the events its own user sent, which in a room come back in the
// sync, as if the other side had sent them. For such an event from self it
// returns nil (drop it); for one from the other side, a copy whose ID is
// the request's. Any other event is returned as it is. The bot's own
// handlers never look at these event types.
func verificationTxnEvent(self id.UserID, evt *event.Event) *event.Event {
	// To-device verification events share the in-room types' names; a
	// decrypted room event may come without its RoomID, so the class and
	// source tell them apart.
	toDevice := evt != nil && (evt.Type.Class == event.ToDeviceEventType || evt.Mautrix.EventSource&event.SourceToDevice != 0)
	if evt == nil || toDevice || (!evt.Type.IsInRoomVerification() && evt.Type.Type != event.InRoomVerificationDone.Type) {
		return evt
	}
	if evt.Sender == self {
		return nil
	}
	if evt.Content.Parsed == nil {
		_ = evt.Content.ParseRaw(evt.Type)
	}
	var rel *event.RelatesTo
	if r, ok := evt.Content.Parsed.(event.Relatable); ok {
		rel = r.OptionalGetRelatesTo()
	}
	if rel == nil {
		// A decrypted event's parsed content can lack the relation, which
		// the sender put in the cleartext part; its raw content has it.
		var raw struct {
			RelatesTo *event.RelatesTo `json:"m.relates_to"`
		}
		if json.Unmarshal(evt.Content.VeryRaw, &raw) == nil {
			rel = raw.RelatesTo
		}
	}
	if rel == nil || rel.Type != event.RelReference || rel.EventID == "" {
		return evt
	}
	cp := *evt
	cp.ID = rel.EventID
	return &cp
}
