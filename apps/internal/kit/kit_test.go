package kit

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 5, "hello"},
		{"hello", 4, "hel…"},
		{"héllo wörld", 3, "hé…"},
		{"abc", 0, ""},
	}
	for _, tt := range tests {
		got := Truncate(tt.in, tt.n)
		if got != tt.want || utf8.RuneCountInString(got) > max(tt.n, 0) {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"", 10, "(empty)"},
		{"ok", 10, "ok"},
		{"abcdef", 4, "abc…"},
	}
	for _, tt := range tests {
		raw, err := String(tt.in, tt.max)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := json.Unmarshal(raw, &got); err != nil || got != tt.want {
			t.Errorf("String(%q) = %s (%v), want %q", tt.in, raw, err, tt.want)
		}
	}
}

func TestTerms(t *testing.T) {
	tests := []struct {
		q    string
		want []string
	}{
		{"Summarize the newest email for me", []string{"summarize"}},
		{"all of the user's documents", nil},
		{"Tax return, TAX; passport", []string{"tax", "return", "passport"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := Terms(tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("Terms(%q) = %q, want %q", tt.q, got, tt.want)
		}
	}
}

func TestDecodeConfig(t *testing.T) {
	type cfg struct {
		A string `json:"a"`
	}
	tests := []struct {
		name    string
		raw     string
		want    string
		wantErr bool
	}{
		{"nil", "", "keep", false},
		{"null", "null", "keep", false},
		{"set", `{"a":"x"}`, "x", false},
		{"unknown field", `{"b":"x"}`, "", true},
		{"not json", `{`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg{A: "keep"}
			err := DecodeConfig(json.RawMessage(tt.raw), &c)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v", err)
			}
			if !tt.wantErr && c.A != tt.want {
				t.Errorf("A = %q", c.A)
			}
		})
	}
}

func TestUnknown(t *testing.T) {
	if err := Unknown("x", "y"); !errors.Is(err, ErrUnknownFunction) {
		t.Errorf("%v does not wrap ErrUnknownFunction", err)
	}
}
