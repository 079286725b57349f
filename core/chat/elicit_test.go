package chat

import "testing"

func TestParseChoice(t *testing.T) {
	q := Prompt{Kind: KindElicit, Options: []Decision{Option("yes"), Option("no"), Cancel}}
	typed := Prompt{Kind: KindElicit, FreeText: true, Options: []Decision{Skip, Cancel}}
	plan := Prompt{Kind: KindPlan}
	exec := Prompt{Kind: KindExec}
	tests := []struct {
		p    Prompt
		in   string
		want Decision
		ok   bool
	}{
		{q, "1", Option("yes"), true},
		{q, " 3 ", Cancel, true},
		{q, "4", "", false},
		{q, "no", Option("no"), true},
		{q, "Cancel", Cancel, true},
		{q, "always", "", false}, // a permission word does not answer a question
		{q, "deny", "", false},
		{exec, "1", AllowOnce, true},
		{exec, "deny", Deny, true},
		{exec, "5", "", false}, // review only for a plan
		{plan, "5", Review, true},
		{exec, "accept", "", false},
		{typed, " Ada Lovelace ", Option("Ada Lovelace"), true},
		{typed, "1", Option("1"), true}, // a typed number is the answer, not a choice
		{typed, "cancel", Cancel, true},
		{typed, "SKIP", Skip, true},
		{typed, "", "", false},
		{typed, string(make([]byte, MaxTyped+1)), "", false},
	}
	for _, tt := range tests {
		got, ok := tt.p.ParseChoice(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s prompt, %q: got %q, %v; want %q, %v", tt.p.Kind, tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestDecisionKnownAndLabel(t *testing.T) {
	tests := []struct {
		d     Decision
		known bool
		label string
	}{
		{AllowOnce, true, "Allow once"},
		{Accept, true, "Accept"},
		{Decline, true, "Decline"},
		{Option("large"), true, "large"},
		{Option(""), false, "="},
		{"maybe", false, "maybe"},
		{Decision("=" + string(make([]byte, MaxTyped+1))), false, string(make([]byte, MaxTyped+1))},
	}
	for _, tt := range tests {
		if tt.d.Known() != tt.known {
			t.Errorf("%q.Known() = %v", tt.d, !tt.known)
		}
		if tt.label != "=" && tt.d.Label() != tt.label {
			t.Errorf("%q.Label() = %q, want %q", tt.d, tt.d.Label(), tt.label)
		}
	}
	if PromptTitle(Prompt{Kind: KindElicit}) == "" || (Decision("accept")).Valid() {
		t.Error("a question's answer must not be a permission decision")
	}
}

func TestAnswers(t *testing.T) {
	q := Prompt{Kind: KindElicit, Options: []Decision{Option("yes"), Cancel}}
	typed := Prompt{Kind: KindElicit, FreeText: true, Options: []Decision{Cancel}}
	exec := Prompt{Kind: KindExec}
	tests := []struct {
		p    Prompt
		d    Decision
		want bool
	}{
		{q, Option("yes"), true},
		{q, Option("maybe"), false}, // only its own options, unless free text
		{q, AllowAlways, false},
		{typed, Option("anything the user typed"), true},
		{typed, Cancel, true},
		{typed, AllowAlways, false},
		{typed, Skip, false}, // not offered: the field is required
		{exec, AllowOnce, true},
		{exec, Option("x"), false},
	}
	for _, tt := range tests {
		if got := tt.p.Answers(tt.d); got != tt.want {
			t.Errorf("%s (free text %v) answered by %q: %v, want %v", tt.p.Kind, tt.p.FreeText, tt.d, got, tt.want)
		}
	}
}
