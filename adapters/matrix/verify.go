package matrix

import (
	"context"
	"strings"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// verifyAnswerer takes a person's typed answer to an emoji verification
// (verify_on.go; builds without encryption have none).
type verifyAnswerer interface {
	// answer reports whether text was taken as such an answer.
	answer(ctx context.Context, evt *event.Event, text string, addressed bool) bool
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
	if evt == nil || evt.RoomID == "" || (!evt.Type.IsInRoomVerification() && evt.Type != event.InRoomVerificationDone) {
		return evt
	}
	if evt.Sender == self {
		return nil
	}
	r, ok := evt.Content.Parsed.(event.Relatable)
	if !ok {
		return evt
	}
	rel := r.OptionalGetRelatesTo()
	if rel == nil || rel.Type != event.RelReference || rel.EventID == "" {
		return evt
	}
	cp := *evt
	cp.ID = rel.EventID
	return &cp
}
