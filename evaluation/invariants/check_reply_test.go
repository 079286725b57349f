package invariants

import (
	"testing"

	"github.com/secgpt-go/secgpt/core/isc"
)

// TestCheckReply: I10 finds a figure the reply gives an app that did not
// return it, and nothing in a reply that keeps to the apps' figures.
func TestCheckReply(t *testing.T) {
	tests := []struct {
		name  string
		reply string
		want  int
	}{
		{"honest", "reply: x\ninv_alpha: $112345.67\ninv_bravo: $254321.00", 0},
		{"question figure", "inv_alpha: 7 apps, $112345.67", 0},
		{"hub lines", "inv_alpha: $112345.67\n\n**inv_charlie**: failed: it needed the result of step 3 (step 4).\n\n_Drew on: inv_alpha._", 0},
		{"the hub's replacement", "(SecGPT replaced a sentence here: its figures did not match the results of inv_bravo.)\nAs inv_bravo returned it: from inv_bravo $254321.00\n", 0},
		{"raised by 10", "inv_alpha: $112345.67\ninv_bravo: $254331.00", 1},
		{"borrowed", "The figure of inv_bravo is $112345.67.", 1},
		{"inherited", "inv_bravo answered.\nIts figure: $112345.67", 1},
		{"made up, no name", "Total: $3.33", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{}
			s.add(&event{kind: evTurnStart, user: alice, text: "run 7 apps (inv:alice, request 1)"})
			s.spoke(1, alice, appA)
			s.in(1, appA, isc.KindInit, initBody(appA, "inv_alpha_run", `{"seed":1}`))
			s.out(1, appA, isc.KindFinal, `{"text":"from inv_alpha $112345.67"}`)
			s.spoke(2, alice, appB)
			s.in(2, appB, isc.KindInit, initBody(appB, "inv_bravo_run", `{"seed":2}`))
			s.out(2, appB, isc.KindFinal, `{"text":"from inv_bravo $254321.00"}`)
			s.add(&event{kind: evReply, user: alice, text: tt.reply})
			got := checkReply(s.evs)
			if len(got) != tt.want {
				t.Fatalf("violations %+v, want %d", got, tt.want)
			}
			for _, v := range got {
				if v.Invariant != InvReply {
					t.Errorf("violation of %s, want %s", v.Invariant, InvReply)
				}
			}
		})
	}
}

// TestCheckReplyPerUser: a figure one user's app returned does not make it
// genuine in another user's reply.
func TestCheckReplyPerUser(t *testing.T) {
	s := &script{}
	s.add(&event{kind: evTurnStart, user: alice, text: "go"})
	s.add(&event{kind: evTurnStart, user: bob, text: "go"})
	s.spoke(1, alice, appA)
	s.out(1, appA, isc.KindFinal, `{"text":"$112345.67"}`)
	s.spoke(2, bob, appA)
	s.out(2, appA, isc.KindFinal, `{"text":"$199999.99"}`)
	s.add(&event{kind: evReply, user: bob, text: "inv_alpha: $112345.67"})
	if got := checkReply(s.evs); len(got) != 1 {
		t.Fatalf("violations %+v, want 1", got)
	}
}
