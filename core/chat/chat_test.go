package chat

import (
	"strings"
	"testing"
)

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
			s := PromptText(tt.p)
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
			{N: 1, App: "search_gmail", Function: "search_gmail", Effect: "read", Args: []Field{{Name: "query", Value: "newest"}}, Granted: true},
			{N: 2, App: "send_gmail_message", Function: "send_gmail_message", Effect: "send", Args: []Field{{Name: "to", Value: "bob@example.com"}, {Name: "message", Value: "(step 1's result)"}}, Confirm: true},
		},
		Flows: []PlanFlow{{From: 1, To: 2, FromApp: "search_gmail", ToApp: "send_gmail_message", Into: "message"}},
		Facts: []PlanFact{{Step: 2, App: "send_gmail_message", Key: "name", Value: "Bob"}},
	}
	got := PromptText(p)
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
