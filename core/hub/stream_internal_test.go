package hub

import "testing"

func TestSettled(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"line\r", "line"},
		{"line\r\n", "line\r\n"},
		{"caf\xc3", "caf"},
		{"café", "café"},
		{"a\xe2\x82", "a"},
		{"a€", "a€"},
		{"emoji \xf0\x9f\x98", "emoji "},
		{"bad \xff", "bad \xff"}, // not a cut rune: shown (escaped) as it is
	}
	for _, tt := range tests {
		if got := settled(tt.in); got != tt.want {
			t.Errorf("settled(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
