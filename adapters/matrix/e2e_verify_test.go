//go:build goolm || libolm

package matrix_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mau.fi/util/jsontime"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/crypto/verificationhelper"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/adapters/matrix"
	"github.com/secgpt-go/secgpt/adapters/matrix/matrixtest"
)

// verifyCallbacks is the person's client side of a verification: it
// reports each step on a channel.
type verifyCallbacks struct {
	ready     chan id.VerificationTransactionID
	sas       chan []string
	done      chan struct{}
	cancelled chan string
}

func newVerifyCallbacks() *verifyCallbacks {
	return &verifyCallbacks{ready: make(chan id.VerificationTransactionID, 1), sas: make(chan []string, 1),
		done: make(chan struct{}, 1), cancelled: make(chan string, 1)}
}

func (c *verifyCallbacks) VerificationRequested(context.Context, id.VerificationTransactionID, id.UserID, id.DeviceID) {
}

func (c *verifyCallbacks) VerificationReady(_ context.Context, txn id.VerificationTransactionID, _ id.DeviceID, _, _ bool, _ *verificationhelper.QRCode) {
	c.ready <- txn
}

func (c *verifyCallbacks) ShowSAS(_ context.Context, _ id.VerificationTransactionID, _ []rune, descriptions []string, _ []int) {
	c.sas <- descriptions
}

func (c *verifyCallbacks) VerificationDone(context.Context, id.VerificationTransactionID, event.VerificationMethod) {
	c.done <- struct{}{}
}

func (c *verifyCallbacks) VerificationCancelled(_ context.Context, _ id.VerificationTransactionID, _ event.VerificationCancelCode, reason string) {
	c.cancelled <- reason
}

// lockedStore makes the helper's in-memory store safe to write from the
// test while the helper reads it from the sync goroutine.
type lockedStore struct {
	mu   sync.Mutex
	next verificationhelper.VerificationStore
}

func (s *lockedStore) DeleteVerification(ctx context.Context, txn id.VerificationTransactionID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next.DeleteVerification(ctx, txn)
}

func (s *lockedStore) GetVerificationTransaction(ctx context.Context, txn id.VerificationTransactionID) (verificationhelper.VerificationTransaction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next.GetVerificationTransaction(ctx, txn)
}

func (s *lockedStore) SaveVerificationTransaction(ctx context.Context, txn verificationhelper.VerificationTransaction) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next.SaveVerificationTransaction(ctx, txn)
}

func (s *lockedStore) FindVerificationTransactionForUserDevice(ctx context.Context, user id.UserID, dev id.DeviceID) (verificationhelper.VerificationTransaction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next.FindVerificationTransactionForUserDevice(ctx, user, dev)
}

func (s *lockedStore) GetAllVerificationTransactions(ctx context.Context) ([]verificationhelper.VerificationTransaction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next.GetAllVerificationTransactions(ctx)
}

func recv[T any](t *testing.T, what string, ch <-chan T, cancelled <-chan string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case r := <-cancelled:
		t.Fatalf("%s: verification cancelled: %s", what, r)
	case <-time.After(wait):
		t.Fatalf("%s: timed out", what)
	}
	panic("unreachable")
}

// TestEmojiVerification: a person's client (a second mautrix client with
// its own verification helper) verifies the bot's device in an encrypted
// DM by emoji: the bot accepts, shows the same emoji in the room as text,
// and completes when the person answers "verify yes"; the person's client
// then trusts the bot's device. "verify no" cancels as a mismatch.
func TestEmojiVerification(t *testing.T) {
	srv := matrixtest.Homeserver(t)
	b := startBot(t, srv, t.TempDir(), newFake(), nil)
	botID, dev := b.Session()
	ctx := context.Background()
	for _, answer := range []string{"yes", "no"} {
		t.Run(answer, func(t *testing.T) {
			cb := newVerifyCallbacks()
			store := &lockedStore{next: verificationhelper.NewInMemoryVerificationStore()}
			var vh *verificationhelper.VerificationHelper
			alice := srv.Login(t, srv.Alice, matrixtest.LoginOptions{Encryption: true, Setup: func(cli *mautrix.Client) error {
				h := cli.Crypto.(*cryptohelper.CryptoHelper)
				ds := cli.Syncer.(*mautrix.DefaultSyncer)
				// The same workaround as the bot's for mautrix's in-room
				// transaction IDs (every event here arrives encrypted).
				h.CustomPostDecrypt = func(ctx context.Context, evt *event.Event) {
					if evt = matrix.VerificationTxnEvent(cli.UserID, evt); evt != nil {
						ds.Dispatch(ctx, evt)
					}
				}
				vh = verificationhelper.NewVerificationHelper(cli, h.Machine(), store, cb, false, false, true)
				return vh.Init(ctx)
			}})
			room := alice.CreateRoom(t, "verify "+answer, true, botID)
			alice.WaitJoined(t, room, botID, wait)

			// The request is sent the way Element sends it, not with
			// mautrix v0.32's StartInRoomVerification: that encrypts the
			// request itself and then hands it to SendMessageEvent, which
			// encrypts it again in an encrypted room, so the receiver
			// decrypts one layer and finds ciphertext. The transaction is
			// recorded as StartInRoomVerification would.
			resp, err := alice.SendMessageEvent(ctx, room, event.EventMessage, &event.MessageEventContent{
				MsgType: event.MsgVerificationRequest, Body: "alice wants to verify your device",
				FromDevice: alice.DeviceID, Methods: []event.VerificationMethod{event.VerificationMethodSAS}, To: botID,
			})
			if err != nil {
				t.Fatalf("send verification request: %v", err)
			}
			txn := id.VerificationTransactionID(resp.EventID)
			if err := store.SaveVerificationTransaction(ctx, verificationhelper.VerificationTransaction{
				ExpirationTime: jsontime.UnixMilli{Time: time.Now().Add(10 * time.Minute)}, RoomID: room,
				VerificationState: verificationhelper.VerificationStateRequested, TransactionID: txn, TheirUserID: botID,
			}); err != nil {
				t.Fatal(err)
			}
			if got := recv(t, "bot accepts", cb.ready, cb.cancelled); got != txn {
				t.Fatalf("ready for %s, want %s", got, txn)
			}
			if err := vh.StartSAS(ctx, txn); err != nil {
				t.Fatalf("start SAS: %v", err)
			}
			descriptions := recv(t, "emoji on the client", cb.sas, cb.cancelled)
			shown := alice.Wait(t, wait, "emoji from the bot", and(fromIn(botID, room), bodyContains("Compare these emoji")))
			body := matrixtest.Message(shown).Body
			if len(descriptions) != 7 {
				t.Fatalf("client shows %d emoji", len(descriptions))
			}
			for _, d := range descriptions {
				if !strings.Contains(body, d) {
					t.Errorf("the bot's emoji %q lack %q", body, d)
				}
			}
			if !strings.Contains(body, string(dev)) || !strings.Contains(body, "verify yes") {
				t.Errorf("the bot's message %q does not name its device and the answer", body)
			}

			if answer == "no" {
				alice.SendText(t, room, "!secgpt verify no")
				reason := recv(t, "mismatch", cb.cancelled, nil)
				if !strings.Contains(reason, "did not match") {
					t.Errorf("cancel reason %q", reason)
				}
				alice.Wait(t, wait, "cancel notice", and(fromIn(botID, room), bodyContains("Verification cancelled")))
				return
			}
			if err := vh.ConfirmSAS(ctx, txn); err != nil {
				t.Fatalf("confirm SAS: %v", err)
			}
			alice.SendText(t, room, "!secgpt verify yes")
			recv(t, "done", cb.done, cb.cancelled)
			alice.Wait(t, wait, "verified notice", and(fromIn(botID, room), bodyContains("Verified")))
			d, err := alice.Crypto.(*cryptohelper.CryptoHelper).Machine().GetOrFetchDevice(ctx, botID, dev)
			if err != nil {
				t.Fatal(err)
			}
			if d.Trust != id.TrustStateVerified {
				t.Errorf("the client's trust in the bot's device = %v, want verified", d.Trust)
			}
		})
	}
}
