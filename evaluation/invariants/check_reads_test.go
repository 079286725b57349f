package invariants

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
	"github.com/secgpt-go/secgpt/sandbox"
	"github.com/secgpt-go/secgpt/sandbox/hubspawn"
)

// TestCheckReads: a grant of a server's reads covers its read function in
// a planned step, and the checker reports its write run on that grant
// alone (InvReads); the click itself resolves the plan once, which is no
// violation.
func TestCheckReads(t *testing.T) {
	readsPlan := func(s *script) {
		s.add(&event{kind: evTurnStart, user: alice, text: "go"})
		p := chat.Prompt{ID: "plan-r", User: alice, Kind: kindPlan, ReadsApp: appSrv}
		s.add(&event{kind: evPrompt, user: alice, prompt: &p, text: promptText(p)})
		s.add(&event{kind: evAnswer, user: alice, prompt: &p, decision: chat.AllowReads(appSrv), ok: true})
		s.add(&event{kind: evResolved, user: alice, prompt: &p, decision: chat.AllowOnce, by: alice})
		s.audit(state.AuditEvent{User: alice, Type: vocab.AuditDecision, Kind: chat.KindExec, App: appSrv, Decision: "once", Detail: planAuditPrefix + string(alice)})
		s.spoke(1, alice, appSrv)
		s.in(1, appSrv, isc.KindInit, initBody(appSrv, srvRead, `{"seed":1}`))
		// A later message: its plan's read step was decided by the grant.
		s.add(&event{kind: evTurnStart, user: alice, text: "again"})
	}
	tests := []struct {
		name  string
		build func(s *script)
		want  []string
	}{
		{"read on the grant", func(s *script) {
			readsPlan(s)
			s.spoke(2, alice, appSrv)
			s.in(2, appSrv, isc.KindInit, initBody(appSrv, srvRead, `{"seed":2}`))
		}, nil},
		{"write on the grant", func(s *script) {
			readsPlan(s)
			s.spoke(2, alice, appSrv)
			s.in(2, appSrv, isc.KindInit, initBody(appSrv, srvWrite, `{"seed":2}`))
		}, []string{InvReads}},
		{"write with its own decision", func(s *script) {
			readsPlan(s)
			s.spoke(2, alice, appSrv)
			s.exec(alice, appSrv)
			s.in(2, appSrv, isc.KindInit, initBody(appSrv, srvWrite, `{"seed":2}`))
		}, nil},
		{"a read on the grant leaves the write its own decision", func(s *script) {
			// Seed 11, episode 21942 (in process): the read's spoke
			// starts after the write was allowed and before the write's.
			readsPlan(s)
			s.spoke(2, alice, appSrv)
			s.exec(alice, appSrv)
			s.spoke(3, alice, appSrv)
			s.in(3, appSrv, isc.KindInit, initBody(appSrv, srvRead, `{"seed":3}`))
			s.in(2, appSrv, isc.KindInit, initBody(appSrv, srvWrite, `{"seed":2}`))
		}, nil},
		{"another user's read on alice's grant", func(s *script) {
			readsPlan(s)
			s.spoke(2, bob, appSrv)
			s.in(2, appSrv, isc.KindInit, initBody(appSrv, srvRead, `{"seed":2}`))
		}, []string{InvExec}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{}
			tt.build(s)
			wantViolated(t, s, tt.want)
		})
	}
}

// wantViolated checks that the checker finds exactly the invariants want
// violated in s's episode.
func wantViolated(t *testing.T, s *script, want []string) {
	t.Helper()
	got := map[string]bool{}
	var details []string
	for _, v := range check(s.evs) {
		got[v.Invariant] = true
		details = append(details, v.Invariant+": "+v.Detail)
	}
	for _, inv := range Invariants {
		if w := slices.Contains(want, inv); got[inv] != w {
			t.Errorf("%s violated = %v, want %v; violations:\n%s", inv, got[inv], w, strings.Join(details, "\n"))
		}
	}
}

// TestReadsExercised: episodes with the server do reach the grant of its
// reads (the user takes it) and run the server after it, so that
// InvReads is checked against real runs, not only hand-made ones.
func TestReadsExercised(t *testing.T) {
	sp, err := sandbox.New(sandbox.Config{DefaultTimeout: 60 * time.Second, Pool: 2})
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	defer sp.Close()
	thief := registerHubApps()
	var clicks, runs, episodes int
	for n := 0; n < 400 && episodes < 24; n++ {
		if !serverEpisode(episodeSeed(1, n)) {
			continue
		}
		episodes++
		_, vs := runEpisode(context.Background(), processSource{hubspawn.New(sp)}, hubspawn.New(sp), 1, n, thief, nil, replicaConfig{}, func(evs []*event) {
			granted := false
			for _, e := range evs {
				if _, ok := e.decision.ReadsApp(); ok && e.kind == evAnswer && e.ok {
					clicks++
					granted = true
				}
				if granted && e.kind == evSpokeStart && e.app == appSrv {
					runs++
				}
			}
		})
		for _, v := range vs {
			t.Errorf("episode %d: %s: %s", n, v.Invariant, v.Detail)
		}
	}
	if clicks == 0 || runs == 0 {
		t.Fatalf("over %d server episodes: %d reads clicks, %d server runs after one", episodes, clicks, runs)
	}
	t.Logf("%d server episodes: %d reads clicks, %d server runs after one", episodes, clicks, runs)
}
