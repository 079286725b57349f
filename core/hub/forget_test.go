package hub_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

// TestForgetDeletesAppState: "!forget all" deletes the apps' stored state
// too, and says what it deleted; "!forget APP" deletes that app's state
// namespace and memory only; another user's records stay.
func TestForgetDeletesAppState(t *testing.T) {
	st := hubtest.Store(t)
	ctx := context.Background()
	alice, bob := ids.UserID("test:alice"), ids.UserID("test:bob")
	seed := func(u ids.UserID) {
		for _, p := range []struct{ ns, key string }{{"hoarder", "a"}, {"hoarder", "b"}, {"quick_ride", "a"}, {"gone_app", "x"}} {
			if err := st.PutAppState(ctx, u, p.ns, p.key, json.RawMessage(`"secret"`)); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.PutEntities(ctx, u, map[string]string{"condition": "type 2 diabetes"}); err != nil {
			t.Fatal(err)
		}
		if err := st.AppendMemory(ctx, u, "quick_ride", state.MemoryEntry{Role: "user", Content: "ride to the clinic"}); err != nil {
			t.Fatal(err)
		}
	}
	seed(alice)
	seed(bob)
	h := hubtest.New(t, hubtest.Options{InProcess: true, Store: st, Apps: []ids.AppID{"hoarder", "quick_ride"}})
	c := &scripted.Conversation{A: h, User: alice, Policy: scripted.Always(chat.AllowOnce)}
	has := func(u ids.UserID, ns, key string) bool {
		_, ok, err := st.GetAppState(ctx, u, ns, key)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	reply := c.Send(ctx, "!forget hoarder")
	if !strings.Contains(reply, "2 stored item(s) of hoarder's data") {
		t.Fatalf("forget hoarder: %q", reply)
	}
	if has(alice, "hoarder", "a") || !has(alice, "quick_ride", "a") {
		t.Fatal("forget hoarder deleted the wrong state")
	}

	reply = c.Send(ctx, "!forget all")
	for _, want := range []string{"the facts you told me", "every app's conversation memory", "2 stored item(s) of the apps' data"} {
		if !strings.Contains(reply, want) {
			t.Errorf("forget all reply %q does not say %q", reply, want)
		}
	}
	for _, k := range []struct{ ns, key string }{{"quick_ride", "a"}, {"gone_app", "x"}} {
		if has(alice, k.ns, k.key) {
			t.Errorf("after forget all, alice's %s/%s is still stored", k.ns, k.key)
		}
	}
	if f, _ := st.Entities(ctx, alice); len(f) != 0 {
		t.Errorf("facts left: %v", f)
	}
	if m, _ := st.ReadMemory(ctx, alice, "quick_ride", 10); len(m) != 0 {
		t.Errorf("memory left: %v", m)
	}
	if !has(bob, "hoarder", "a") || !has(bob, "gone_app", "x") {
		t.Error("forgetting alice deleted bob's state")
	}
	evs, err := st.ReadAudit(ctx, state.AuditFilter{User: alice, Type: "forget"})
	if err != nil || len(evs) != 2 || !strings.Contains(evs[1].Detail, "stored item") {
		t.Errorf("audit = %+v, %v", evs, err)
	}
}
