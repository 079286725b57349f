package matrix_test

import (
	"context"
	"strings"
	"testing"

	"go.mau.fi/util/jsontime"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/adapters/matrix"
	"github.com/secgpt-go/secgpt/adapters/matrix/internal/matrixtest"
)

// TestVerificationRequestAnswered: a verification request to the bot is
// answered at once, never left waiting: in the room (as Element sends it to
// another user) with ready in a build with encryption (emoji verification,
// TestJSClientSASVerification) and with a cancellation that says why
// without; to its device (no room to show emoji in) with a cancellation
// and its reason.
func TestVerificationRequestAnswered(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	// A fresh account: the bot makes its cross-signing keys at its first
	// start, which emoji verification needs (the shared "bot" account may
	// have keys from another test, and no recovery key here).
	acct := srv.Register(t, "verifybot")
	b := startBot(t, srv, "", newFake(), func(c *matrix.Config) { c.UserID, c.Password = string(acct.UserID), acct.Password })
	alice, botID, room := dmWithBot(t, srv, b)
	_, botDevice := b.Session()

	req := alice.Send(t, room, &event.MessageEventContent{MsgType: event.MsgVerificationRequest, Body: "alice is requesting to verify your key",
		To: botID, FromDevice: alice.DeviceID, Methods: []event.VerificationMethod{event.VerificationMethodSAS}})
	if matrix.EncryptionCompiled {
		// A build with encryption verifies by emoji: it accepts.
		ready := alice.Wait(t, wait, "in-room ready", and(fromIn(botID, room), func(e *event.Event) bool {
			return e.Type == event.InRoomVerificationReady
		}))
		if ready.Content.Parsed == nil {
			if err := ready.Content.ParseRaw(ready.Type); err != nil {
				t.Fatal(err)
			}
		}
		if r := ready.Content.AsVerificationReady(); r.RelatesTo == nil || r.RelatesTo.EventID != req {
			t.Errorf("ready %+v does not answer the request %s", r, req)
		}
	} else {
		cancel := alice.Wait(t, wait, "in-room cancellation", and(fromIn(botID, room), func(e *event.Event) bool {
			return e.Type == event.InRoomVerificationCancel
		}))
		c := parseCancel(t, cancel)
		if c.RelatesTo == nil || c.RelatesTo.Type != event.RelReference || c.RelatesTo.EventID != req || !strings.Contains(c.Reason, "cannot do interactive") {
			t.Errorf("in-room cancellation %+v", c)
		}
	}

	txn := id.VerificationTransactionID("txn-" + string(req)[1:9])
	_, err := alice.SendToDevice(context.Background(), event.ToDeviceVerificationRequest, &mautrix.ReqSendToDevice{
		Messages: map[id.UserID]map[id.DeviceID]*event.Content{botID: {botDevice: {Parsed: &event.VerificationRequestEventContent{
			ToDeviceVerificationEvent: event.ToDeviceVerificationEvent{TransactionID: txn},
			// The spec requires the timestamp; mautrix's helper ignores
			// a request without one as too old.
			FromDevice: alice.DeviceID, Timestamp: jsontime.UnixMilliNow(), Methods: []event.VerificationMethod{event.VerificationMethodSAS}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	td := alice.Wait(t, wait, "to-device cancellation", func(e *event.Event) bool {
		return e.Type == event.ToDeviceVerificationCancel && e.Sender == botID
	})
	if c := parseCancel(t, td); c.TransactionID != txn || c.Code == "" || c.Reason == "" {
		t.Errorf("to-device cancellation %+v", c)
	}
}

func parseCancel(t *testing.T, e *event.Event) *event.VerificationCancelEventContent {
	t.Helper()
	if e.Content.Parsed == nil {
		if err := e.Content.ParseRaw(e.Type); err != nil {
			t.Fatalf("parse %s: %v", e.Type, err)
		}
	}
	c, ok := e.Content.Parsed.(*event.VerificationCancelEventContent)
	if !ok {
		t.Fatalf("%s content is %T", e.Type, e.Content.Parsed)
	}
	return c
}
