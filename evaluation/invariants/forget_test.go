package invariants

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/state/memstore"
)

// TestForgetAllReplyRecognised: the checker's forget-all check starts
// from the reply the real hub gives to "!forget all". When the hub's
// wording changed (2df108d) the check matched no reply any more and
// checked nothing, with every test still passing.
func TestForgetAllReplyRecognised(t *testing.T) {
	cat, err := apps.NewCatalog(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(hub.Options{Store: memstore.New(memstore.Options{}), Catalog: cat, Model: offline.Model{},
		Spawner: hub.SpawnerFunc(func(context.Context, hub.SpokeSpec) (hub.Spoke, error) {
			return nil, errors.New("no spokes here")
		})})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c := &scripted.Conversation{A: h, User: alice}
	if reply := c.Send(context.Background(), "!forget all"); !strings.HasPrefix(reply, forgetAllReply) {
		t.Fatalf("the hub answered !forget all with %q; the checker waits for %q", reply, forgetAllReply)
	}
}
