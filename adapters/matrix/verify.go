package matrix

import (
	"context"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// verifyRefusal is the reason sent with the cancellation of a verification
// request. The bot cannot do interactive (emoji) verification yet (see
// docs/matrix.md for why); a request left unanswered would keep the
// person's client waiting, so it is cancelled at once, saying what to do.
const verifyRefusal = "This bot cannot do interactive (emoji) verification. Its device is signed by its owner's cross-signing key; " +
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
