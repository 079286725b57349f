package hub_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// TestForgetDeletesAppState: "!forget all" deletes the apps' stored state
// too, and says what it deleted; "!forget APP" deletes that app's state
// namespace and memory only; another user's records stay.
func TestForgetDeletesAppState(t *testing.T) {
	st := hubtest.Store(t)
	ctx := context.Background()
	alice, bob := ids.UserID("test:alice"), ids.UserID("test:bob")
	seed := func(u ids.UserID) {
		// The label records are the hub's own, as it writes them beside
		// an app's state: "!forget" must not count them as the user's.
		for _, p := range []struct{ ns, key string }{{"hoarder", "a"}, {"hoarder", "b"}, {"quick_ride", "a"}, {"gone_app", "x"},
			{"secgpt.label/hoarder", "label"}, {"secgpt.label/quick_ride", "label"}} {
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
	h := hubtest.New(t, hubtest.Options{Store: st, Apps: []ids.AppID{"hoarder", "quick_ride"}})
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
	for _, k := range []struct{ ns, key string }{{"quick_ride", "a"}, {"gone_app", "x"}, {"secgpt.label/quick_ride", "label"}} {
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
	evs, err := st.ReadAudit(ctx, state.AuditFilter{User: alice, Type: vocab.AuditForget})
	if err != nil || len(evs) != 2 || !strings.Contains(evs[1].Detail, "stored item") {
		t.Errorf("audit = %+v, %v", evs, err)
	}
}

// TestCommandsDropPendingReplan: a pending "shall I try another plan?"
// holds the user's words, so "!forget all" drops the user's questions in
// every conversation and says so, and "!new" drops this conversation's;
// a later "yes" then runs nothing from before. "!forget APP" is about an
// app's memory and keeps them, and another user's question always stays.
func TestCommandsDropPendingReplan(t *testing.T) {
	alice, bob := ids.UserID("test:alice"), ids.UserID("test:bob")
	here := ids.ConversationID("conv:" + string(alice)) // scripted.Conversation's
	tests := []struct {
		name      string
		cmd       string
		wantReply string
		// gone and kept are alice's conversations whose question must be
		// dropped or kept.
		gone, kept []ids.ConversationID
		wantAudit  string
	}{
		{"forget all", "!forget all", "2 pending question(s) whether to try another plan", []ids.ConversationID{here, "room"}, nil, "2 pending question(s) whether to try another plan"},
		{"new", "!new", "the pending question whether to try another plan is dropped", []ids.ConversationID{here}, []ids.ConversationID{"room"}, ""},
		{"forget app", "!forget quick_ride", "quick_ride remembered", nil, []ids.ConversationID{here, "room"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := hubtest.Store(t)
			for _, r := range []state.Replan{
				{User: alice, Conversation: here, Query: fareQuery, Exclude: []ids.AppID{"quick_ride"}},
				{User: alice, Conversation: "room", Query: fareQuery},
				{User: bob, Conversation: here, Query: fareQuery},
			} {
				if err := st.PutReplan(ctx, r, time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			h := hubtest.New(t, hubtest.Options{Store: st, Apps: []ids.AppID{"quick_ride", "metro_hail"}})
			c := &scripted.Conversation{A: h, User: alice, Policy: scripted.Always(chat.AllowOnce)}

			if reply := c.Send(ctx, tc.cmd); !strings.Contains(reply, tc.wantReply) {
				t.Errorf("%s: reply %q does not say %q", tc.cmd, reply, tc.wantReply)
			}
			if tc.wantAudit != "" {
				evs, err := st.ReadAudit(ctx, state.AuditFilter{User: alice, Type: vocab.AuditForget})
				if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Detail, tc.wantAudit) {
					t.Errorf("audit = %+v, %v; want one forget event saying %q", evs, err, tc.wantAudit)
				}
			}
			if slices.Contains(tc.gone, here) {
				// The outcome that matters: the yes is a new request, not
				// the old plan (whose query names Main Street).
				if reply := c.Send(ctx, "yes"); strings.Contains(reply, "Main Street") {
					t.Errorf("after %s, yes ran the old plan: %q", tc.cmd, reply)
				}
			}
			for _, conv := range tc.gone {
				if r, ok, err := st.TakeReplan(ctx, alice, conv); ok || err != nil {
					t.Errorf("after %s, alice's question in %s survived: %+v, %v", tc.cmd, conv, r, err)
				}
			}
			for _, conv := range tc.kept {
				if _, ok, err := st.TakeReplan(ctx, alice, conv); !ok || err != nil {
					t.Errorf("after %s, alice's question in %s was lost: %v, %v", tc.cmd, conv, ok, err)
				}
			}
			if _, ok, err := st.TakeReplan(ctx, bob, here); !ok || err != nil {
				t.Errorf("after alice's %s, bob's question was lost: %v, %v", tc.cmd, ok, err)
			}
		})
	}
}

// TestForgetNames: "!forget NAME" takes an installed app first, then one
// of the user's facts (any case), then an app no longer installed that
// left memory; anything else is not forgotten "successfully": the reply
// says nothing has that name and lists the names there are. "!facts"
// lists the facts' names, never their values.
func TestForgetNames(t *testing.T) {
	alice, bob := ids.UserID("test:alice"), ids.UserID("test:bob")
	tests := []struct {
		name, cmd string
		want      []string
		not       []string
		// factsLeft and goneMemory are alice's facts and gone_app's
		// memory entries after the command.
		factsLeft  []string
		goneMemory int
	}{
		{"installed app", "!forget quick_ride", []string{"Forgotten: what quick_ride remembered"}, nil, []string{"code", "city"}, 1},
		{"installed app, any case", "!forget Quick_Ride", []string{"Forgotten: what quick_ride remembered"}, nil, []string{"code", "city"}, 1},
		{"all, any case", "!forget ALL", []string{"Forgotten: the facts you told me;"}, nil, nil, 0},
		{"fact", "!forget CODE", []string{"Forgotten: your fact code.", "No app kept anything that came from it."}, []string{"qzcode"}, []string{"city"}, 1},
		{"app no longer installed", "!forget gone_app", []string{"Forgotten: what gone_app (no longer installed) remembered"}, nil, []string{"code", "city"}, 0},
		{"nothing", "!forget diagnosis", []string{`Nothing is called "diagnosis" here`, "facts: city, code", "Installed apps: quick_ride"}, []string{"Forgotten", "qzcode", "Oslo"}, []string{"code", "city"}, 1},
		{"not an app id", "!forget ../etc", []string{`Nothing is called "../etc" here`}, []string{"Sorry"}, []string{"code", "city"}, 1},
		{"facts", "!facts", []string{"names only", "city, code", "!forget NAME"}, []string{"qzcode", "Oslo"}, []string{"code", "city"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := hubtest.Store(t)
			for _, u := range []ids.UserID{alice, bob} {
				if err := st.PutEntities(ctx, u, map[string]string{"code": "qzcode 1234", "city": "Oslo"}); err != nil {
					t.Fatal(err)
				}
				for _, app := range []ids.AppID{"quick_ride", "gone_app"} {
					if err := st.AppendMemory(ctx, u, app, state.MemoryEntry{Role: "user", Content: "hello"}); err != nil {
						t.Fatal(err)
					}
				}
			}
			h := hubtest.New(t, hubtest.Options{Store: st, Apps: []ids.AppID{"quick_ride"}})
			c := &scripted.Conversation{A: h, User: alice}
			reply := c.Send(ctx, tc.cmd)
			for _, w := range tc.want {
				if !strings.Contains(reply, w) {
					t.Errorf("%s = %q; want it to say %q", tc.cmd, reply, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(reply, n) {
					t.Errorf("%s = %q; it must not say %q", tc.cmd, reply, n)
				}
			}
			facts, err := st.Entities(ctx, alice)
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Sorted(maps.Keys(facts)); !slices.Equal(got, slices.Sorted(slices.Values(tc.factsLeft))) {
				t.Errorf("after %s alice's facts are %v, want %v", tc.cmd, got, tc.factsLeft)
			}
			if es, _ := st.ReadMemory(ctx, alice, "gone_app", 10); len(es) != tc.goneMemory {
				t.Errorf("after %s gone_app's memory has %d entries, want %d", tc.cmd, len(es), tc.goneMemory)
			}
			if f, _ := st.Entities(ctx, bob); len(f) != 2 {
				t.Errorf("alice's %s touched bob's facts: %v", tc.cmd, f)
			}
		})
	}
	c := &scripted.Conversation{A: hubtest.New(t, hubtest.Options{Apps: []ids.AppID{"quick_ride"}}), User: bob}
	if reply := c.Send(context.Background(), "!facts"); reply != "I remember no facts about you." {
		t.Errorf("!facts with none = %q", reply)
	}
}
