package offline

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestResultText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"hits", `[{"id":1,"city":"New York"},{"id":2,"city":"Los Angeles"}]`, "- id: 1, city: New York\n- id: 2, city: Los Angeles"},
		{"scalars", `[3, "Sushi", true]`, "- 3\n- Sushi\n- true"},
		{"empty list", `[]`, "(none)"},
		{"text stays", "Partly Cloudy", "Partly Cloudy"},
		{"nested stays JSON", `[{"a":{"b":1}}]`, `[{"a":{"b":1}}]`},
		{"broken stays", `[{"a":`, `[{"a":`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resultText(tt.in); got != tt.want {
				t.Errorf("resultText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzResultText(f *testing.F) {
	f.Add(`[{"id":1,"city":"New York"}]`)
	f.Add(`["a",1,null]`)
	f.Fuzz(func(t *testing.T, s string) {
		out := resultText(s)
		if !strings.HasPrefix(strings.TrimSpace(s), "[") && out != s {
			t.Fatalf("a result that is not a list changed: %q → %q", s, out)
		}
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("resultText(%q) is not UTF-8: %q", s, out)
		}
	})
}
