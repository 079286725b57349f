package invariants

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/state/memstore"
)

// TestForgetAllReplyRecognised: the checker's forget-all check starts
// from the reply the real hub gives to "!forget all". When the hub's
// wording changed (2df108d) the check matched no reply any more and
// checked nothing, with every test still passing.
func TestForgetAllReplyRecognised(t *testing.T) {
	c, _ := forgetHub(t)
	if reply := c.Send(context.Background(), "!forget all"); !strings.HasPrefix(reply, forgetAllReply) {
		t.Fatalf("the hub answered !forget all with %q; the checker waits for %q", reply, forgetAllReply)
	}
}

// TestForgetFactReplyRecognised: the checker's forget-fact check starts
// from the reply the real hub gives to "!forget data", and reads the key
// after it.
func TestForgetFactReplyRecognised(t *testing.T) {
	c, st := forgetHub(t)
	ctx := context.Background()
	if err := st.PutEntities(ctx, alice, map[string]string{"data": "qzabcdef 1234"}); err != nil {
		t.Fatal(err)
	}
	reply := c.Send(ctx, "!forget data")
	if !strings.HasPrefix(reply, forgetFactReply+"data") {
		t.Fatalf("the hub answered !forget data with %q; the checker waits for %q", reply, forgetFactReply+"data")
	}
	ch := &checker{held: map[ids.UserID]map[string]string{alice: {"data": "qzabcdef 1234"}}, gone: map[ids.UserID]map[string]int64{}}
	ch.forgetFact(&event{kind: evReply, user: alice, text: reply, seq: 7})
	if ch.gone[alice]["qzabcdef 1234"] != 7 {
		t.Errorf("the checker did not read the forgotten fact from %q: %v", reply, ch.gone)
	}
}

// forgetHub is a hub without spokes and a conversation of alice's with it.
func forgetHub(t *testing.T) (*scripted.Conversation, *memstore.Store) {
	t.Helper()
	cat, err := apps.NewCatalog(nil)
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New(memstore.Options{})
	h, err := hub.New(hub.Options{Store: st, Catalog: cat, Model: offline.Model{},
		Spawner: hub.SpawnerFunc(func(context.Context, hub.SpokeSpec) (hub.Spoke, error) {
			return nil, errors.New("no spokes here")
		})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return &scripted.Conversation{A: h, User: alice}, st
}
