package chat

import (
	"strings"
	"testing"
)

func TestParseDecision(t *testing.T) {
	tests := []struct {
		in   string
		want Decision
		ok   bool
	}{
		{"1", AllowOnce, true}, {" Allow once ", AllowOnce, true}, {"2", AllowSession, true},
		{"session", AllowSession, true}, {"3", AllowAlways, true}, {"always allow", AllowAlways, true},
		{"4", Deny, true}, {"DENY", Deny, true}, {"no", Deny, true},
		{"5", Review, true}, {"review", Review, true},
		{"6", "", false}, {"", "", false}, {"allow everything forever", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := ParseDecision(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("ParseDecision(%q) = %q, %v", tt.in, got, ok)
			}
		})
	}
}

func TestDecisionSemantics(t *testing.T) {
	for _, d := range Decisions {
		if !d.Valid() || d.Label() == string(d) {
			t.Errorf("%q: valid %v label %q", d, d.Valid(), d.Label())
		}
		if d.Allows() == (d == Deny) {
			t.Errorf("%q: Allows() = %v", d, d.Allows())
		}
	}
	if Decision("maybe").Valid() || Decision("maybe").Allows() {
		t.Error("unknown decision accepted")
	}
}

func TestPromptText(t *testing.T) {
	tests := []struct {
		name string
		p    Prompt
		want []string
		not  []string
	}{
		{"exec", Prompt{Kind: KindExec, Target: "quick_ride", Function: "quick_ride", Data: `{"a":1}`},
			[]string{"Run app quick_ride?", "What it would receive:\n  a: 1"}, []string{"Warning", "(quick_ride)", `{"a":1}`}},
		{"confirm", Prompt{Kind: KindExec, Confirm: true, Target: "gmail", Function: "send", Effect: "send", Data: `Arguments: {"to":"ada@example.com","n":2}`},
			[]string{"Confirm: app gmail · send is about to send data to a third party", "Arguments:\n  to: ada@example.com\n  n: 2"}, []string{"{"}},
		{"collab unplanned", Prompt{Kind: KindCollab, Requester: "search_gmail", Target: "send_gmail_message", Unplanned: true, Data: "to: x"},
			[]string{"App search_gmail wants to use app send_gmail_message", "not part of the plan", "to: x"}, nil},
		{"data", Prompt{Kind: KindData, Target: "travel_mate", Data: "dob: 1980", Reason: "remembered"},
			[]string{"Share remembered data with app travel_mate?", "dob: 1980", "Why: remembered"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.p.Text()
			for _, w := range tt.want {
				if !strings.Contains(s, w) {
					t.Errorf("text lacks %q:\n%s", w, s)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(s, w) {
					t.Errorf("text has %q:\n%s", w, s)
				}
			}
		})
	}
}

func TestPlanPromptText(t *testing.T) {
	p := Prompt{Kind: KindPlan, Rule: "ask: send:*",
		Steps: []PlanStep{
			{N: 1, App: "search_gmail", Function: "search_gmail", Effect: "read", Args: []Field{{"query", "newest"}}, Granted: true},
			{N: 2, App: "send_gmail_message", Function: "send_gmail_message", Effect: "send", Args: []Field{{"to", "bob@example.com"}, {"message", "(step 1's result)"}}, Confirm: true},
		},
		Flows: []PlanFlow{{From: 1, To: 2, FromApp: "search_gmail", ToApp: "send_gmail_message", Into: "message"}},
		Facts: []PlanFact{{Step: 2, App: "send_gmail_message", Key: "name", Value: "Bob"}},
	}
	got := p.Text()
	for _, want := range []string{"Run this 2-step plan?", "Rule: ask: send:*",
		"1. search_gmail(query=newest) — reads only [already allowed]",
		"2. send_gmail_message(to=bob@example.com, message=(step 1's result)) — sends data to a third party [asks again with the final values]",
		"step 1's result (search_gmail) → step 2's message (send_gmail_message)",
		"name: Bob → step 2 (send_gmail_message)"} {
		if !strings.Contains(got, want) {
			t.Errorf("plan prompt text lacks %q:\n%s", want, got)
		}
	}
	if len(p.Choices()) != 5 || p.Choices()[4] != Review || len((Prompt{Kind: KindExec}).Choices()) != 4 {
		t.Errorf("choices: plan %v, exec %v", p.Choices(), (Prompt{Kind: KindExec}).Choices())
	}
	if KindPlan.Valid() {
		t.Error("plan is not a grant kind")
	}
}
