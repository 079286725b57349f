package chat

import (
	"strings"
	"testing"
	"time"
)

func TestStepLine(t *testing.T) {
	long := strings.Repeat("x", 60)
	tests := []struct {
		name string
		s    PlanStep
		want string
	}{
		{name: "function named like the app is not repeated",
			s:    PlanStep{N: 1, App: "quick_ride", Function: "quick_ride", Effect: "read", Args: []Field{{Name: "start_point", Value: "Main Street"}, {Name: "end_point", Value: "Elm Avenue"}}},
			want: "1. quick_ride(start_point=Main Street, end_point=Elm Avenue) — reads only"},
		{name: "another function is named after a dot",
			s:    PlanStep{N: 2, App: "gmail", Function: "send", Effect: "send", Args: []Field{{Name: "to", Value: "ada@example.com"}}},
			want: "2. gmail · send(to=ada@example.com) — sends data to a third party"},
		{name: "long values shortened, line breaks shown",
			s:    PlanStep{N: 3, App: "notes", Function: "add", Effect: "write", Args: []Field{{Name: "text", Value: "a\nb"}, {Name: "body", Value: long}}},
			want: "3. notes · add(text=a⏎b, body=" + strings.Repeat("x", MaxShownValue-1) + "…) — changes your own data"},
		{name: "a claim that disagrees does not read as the effect",
			s:    PlanStep{N: 4, App: "fs", Function: "rm", Effect: "destroy", Claims: "the server says: read-only, closed world"},
			want: "4. fs · rm() — treated as: deletes or irreversibly changes data (the app claims: read-only, closed world; a claim is not verified, so it does not lower this)"},
		{name: "instruction step", s: PlanStep{N: 5, App: "creative_muse", Instruction: "write a poem"}, want: "5. creative_muse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StepLine(tt.s); got != tt.want {
				t.Errorf("StepLine() =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
	if !Shortened([]Field{{Name: "b", Value: long}}) || Shortened([]Field{{Name: "a", Value: "short"}}) {
		t.Error("Shortened does not tell a shortened value")
	}
	if got := FullArgs([]Field{{Name: "body", Value: long}}); len(got) != 1 || got[0] != "body: "+long {
		t.Errorf("FullArgs = %q", got)
	}
}

func TestDataText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"object", `{"to":"ada@example.com","n":2,"tags":["a"]}`, "  to: ada@example.com\n  n: 2\n  tags: [\"a\"]"},
		{"labelled object", "Instruction: go\nArguments: {\"city\":\"Paris\"}", "Instruction: go\nArguments:\n  city: Paris"},
		{"text stays", "the result of step 1", "the result of step 1"},
		{"not one object", `{"a":1} {"b":2}`, `{"a":1} {"b":2}`},
		{"broken JSON", `{"a":`, `{"a":`},
		{"escapes stay visible", `{"a\u001b":"x\u001b[2J\u202ey"}`, "  a\\x1b: x\\x1b[2J\\u202ey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DataText(tt.in); got != tt.want {
				t.Errorf("DataText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzDataText(f *testing.F) {
	f.Add(`Arguments: {"a":"b"}`)
	f.Add(`{"a":{"b":[1,2]}}`)
	f.Fuzz(func(t *testing.T, s string) {
		out := DataText(s)
		if !strings.Contains(s, "{") && out != s {
			t.Fatalf("text without an object changed: %q → %q", s, out)
		}
		// Decoding adds no control character that the input lacked.
		if Neutralize(s) == s && Neutralize(out) != out {
			t.Fatalf("DataText(%q) = %q brings a control character", s, out)
		}
	})
}

func TestExpiryText(t *testing.T) {
	now := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	tests := []struct {
		at   time.Time
		want string
	}{
		{time.Time{}, ""},
		{now.Add(5 * time.Minute), "no answer means Deny; expires at 06:05 UTC (in 5 min)"},
		{now.Add(20 * time.Second), "no answer means Deny; expires at 06:00 UTC (in under a minute)"},
		{now.Add(90 * time.Minute), "no answer means Deny; expires at 07:30 UTC (in 1h30m)"},
	}
	for _, tt := range tests {
		if got := ExpiryText(tt.at, now); got != tt.want {
			t.Errorf("ExpiryText(%v) = %q, want %q", tt.at, got, tt.want)
		}
	}
}
