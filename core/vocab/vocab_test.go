package vocab

import "testing"

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
