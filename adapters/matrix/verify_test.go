package matrix

import (
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

func TestParseVerify(t *testing.T) {
	tests := []struct {
		text    string
		yes, ok bool
	}{
		{"verify yes", true, true},
		{"!verify YES", true, true},
		{"  Verify y ", true, true},
		{"verify no", false, true},
		{"!verify n", false, true},
		{"verify", false, false},
		{"verify maybe", false, false},
		{"verify yes please", false, false},
		{"yes", false, false},
		{"please verify yes", false, false},
	}
	for _, tt := range tests {
		yes, ok := parseVerify(tt.text)
		if yes != tt.yes || ok != tt.ok {
			t.Errorf("parseVerify(%q) = %v, %v; want %v, %v", tt.text, yes, ok, tt.yes, tt.ok)
		}
	}
}

// TestVerificationTxnEvent: in-room verification events from the other
// side get their request's ID, our own are dropped, anything else passes
// unchanged (and the original event is never modified).
func TestVerificationTxnEvent(t *testing.T) {
	const self, other = id.UserID("@bot:hs"), id.UserID("@alice:hs")
	ref := &event.RelatesTo{Type: event.RelReference, EventID: "$request"}
	ready := func(sender id.UserID, rel *event.RelatesTo) *event.Event {
		return &event.Event{ID: "$ready", RoomID: "!r", Sender: sender, Type: event.InRoomVerificationReady,
			Content: event.Content{Parsed: &event.VerificationReadyEventContent{InRoomVerificationEvent: event.InRoomVerificationEvent{RelatesTo: rel}}}}
	}
	done := &event.Event{ID: "$done", RoomID: "!r", Sender: other, Type: event.InRoomVerificationDone,
		Content: event.Content{Parsed: &event.VerificationDoneEventContent{InRoomVerificationEvent: event.InRoomVerificationEvent{RelatesTo: ref}}}}
	msg := &event.Event{ID: "$m", RoomID: "!r", Sender: other, Type: event.EventMessage, Content: event.Content{Parsed: &event.MessageEventContent{Body: "hi"}}}
	toDevice := &event.Event{Sender: other, Type: event.ToDeviceVerificationReady, Content: event.Content{Parsed: &event.VerificationReadyEventContent{}}}
	tests := []struct {
		name   string
		in     *event.Event
		wantID id.EventID
		drop   bool
	}{
		{"ready from the other side", ready(other, ref), "$request", false},
		{"done from the other side", done, "$request", false},
		{"our own ready", ready(self, ref), "", true},
		{"ready without a reference", ready(other, nil), "$ready", false},
		{"ready with another relation", ready(other, &event.RelatesTo{Type: event.RelReplace, EventID: "$x"}), "$ready", false},
		{"a message", msg, "$m", false},
		{"to-device", toDevice, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			origID := tt.in.ID
			got := verificationTxnEvent(self, tt.in)
			if tt.drop {
				if got != nil {
					t.Fatalf("got %+v, want it dropped", got)
				}
				return
			}
			if got == nil || got.ID != tt.wantID {
				t.Fatalf("got %+v, want ID %s", got, tt.wantID)
			}
			if tt.in.ID != origID {
				t.Errorf("the original event's ID changed to %s", tt.in.ID)
			}
		})
	}
}
