package statetest

import (
	"slices"
	"strconv"
	"testing"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// testDecide: deciding a prompt takes it, records its outcome and stores
// its grants in one step; a prompt decided once is not decided again.
func testDecide(t *testing.T, s state.Store) {
	ctx := t.Context()
	p := prompt("d1")
	must(t, s.PutPending(ctx, p), "put")
	d := state.Decided{Prompt: "d1", Decision: vocab.AllowAlways, By: "alice", Replica: "r1", At: t0}
	g := grant("alice", vocab.KindCollab, "ride", "mail", vocab.AllowAlways, "")
	got, took, err := s.DecidePending(ctx, d, []state.Grant{g})
	must(t, err, "decide")
	if !took || !samePrompt(got, p) {
		t.Fatalf("DecidePending = %+v, %v", got, took)
	}
	if _, ok, _ := s.GetPending(ctx, "d1"); ok {
		t.Error("the decided prompt is still pending")
	}
	out, ok, err := s.Decided(ctx, "d1")
	must(t, err, "decided")
	if !ok || out.Decision != vocab.AllowAlways || out.By != "alice" || out.Replica != "r1" || out.Expired {
		t.Errorf("Decided = %+v, %v", out, ok)
	}
	if _, ok, err := s.FindGrant(ctx, g.GrantKey, ""); err != nil || !ok {
		t.Errorf("the outcome's grant was not stored: %v, %v", ok, err)
	}
	// A second outcome (an expiry racing the answer) changes nothing.
	g2 := grant("alice", vocab.KindExec, "", "ride", vocab.AllowAlways, "")
	if _, took, err := s.DecidePending(ctx, state.Decided{Prompt: "d1", Decision: vocab.Deny, Expired: true, At: t0}, []state.Grant{g2}); took || err != nil {
		t.Errorf("second DecidePending = %v, %v", took, err)
	}
	if out, _, _ := s.Decided(ctx, "d1"); out.Decision != vocab.AllowAlways {
		t.Errorf("the second outcome replaced the first: %+v", out)
	}
	if _, ok, _ := s.FindGrant(ctx, g2.GrantKey, ""); ok {
		t.Error("a losing outcome stored its grant")
	}
	if _, ok, err := s.Decided(ctx, "nope"); ok || err != nil {
		t.Errorf("Decided(unknown) = %v, %v", ok, err)
	}
	// Every answer kind is an outcome, a question's typed answer included.
	must(t, s.PutPending(ctx, prompt("d2")), "put")
	if _, took, err := s.DecidePending(ctx, state.Decided{Prompt: "d2", Decision: vocab.Option("large"), By: "alice", At: t0}, nil); !took || err != nil {
		t.Fatalf("typed answer: %v, %v", took, err)
	}
	if out, _, _ := s.Decided(ctx, "d2"); out.Decision != vocab.Option("large") {
		t.Errorf("typed answer stored as %+v", out)
	}
	for _, bad := range []state.Decided{{Decision: vocab.Deny}, {Prompt: "x", Decision: "maybe"}} {
		if _, _, err := s.DecidePending(ctx, bad, nil); err == nil {
			t.Errorf("DecidePending(%+v) accepted", bad)
		}
	}
}

func testDecideRace(t *testing.T, s state.Store) {
	ctx := t.Context()
	for round := range 5 {
		id := ids.PromptID("drace-" + strconv.Itoa(round))
		must(t, s.PutPending(ctx, prompt(id)), "put")
		wins := race(t, func() (bool, error) {
			_, ok, err := s.DecidePending(ctx, state.Decided{Prompt: id, Decision: vocab.AllowOnce, By: "alice", At: t0}, nil)
			return ok, err
		})
		if wins != 1 {
			t.Errorf("round %d: %d racers decided the prompt, want exactly 1", round, wins)
		}
	}
}

// testEndSessionsUnder: ending the sessions under a channel ends its
// threads' sessions and their session grants, not the channel's own, not
// another channel's whose ID shares a prefix, not another user's.
func testEndSessionsUnder(t *testing.T, s state.Store) {
	ctx := t.Context()
	touch := func(user ids.UserID, conv ids.ConversationID) state.Session {
		t.Helper()
		se, err := s.TouchSession(ctx, user, conv, 0, t0)
		must(t, err, "touch")
		must(t, s.PutGrant(ctx, grant(user, vocab.KindExec, "", ids.AppID("app-"+se.ID), vocab.AllowSession, se.ID)), "grant")
		return se
	}
	ch := ids.ConversationID("slack:T1/C1")
	own := touch("alice", ch)
	touch("alice", ch+"/1700.1")
	touch("alice", ch+"/1700:2%")
	other := touch("alice", "slack:T1/C10/1700.3")
	bob := touch("bob", ch+"/1700.1")
	ended, err := s.EndSessionsUnder(ctx, "alice", ch)
	must(t, err, "end under")
	if len(ended) != 2 || ended[0] != ch+"/1700.1" || ended[1] != ch+"/1700:2%" {
		t.Fatalf("ended %q", ended)
	}
	gs, err := s.ListGrants(ctx, "alice")
	must(t, err, "list")
	var left []ids.SessionID
	for _, g := range gs {
		left = append(left, g.Session)
	}
	if len(left) != 2 || !slices.Contains(left, own.ID) || !slices.Contains(left, other.ID) {
		t.Errorf("alice's session grants left: %v, want the channel's and the other channel's", left)
	}
	if gs, _ := s.ListGrants(ctx, "bob"); len(gs) != 1 || gs[0].Session != bob.ID {
		t.Errorf("bob's grants: %+v", gs)
	}
	if again, err := s.EndSessionsUnder(ctx, "alice", ch); err != nil || len(again) != 0 {
		t.Errorf("second call ended %q, %v", again, err)
	}
}
