package chat

import "testing"

func TestMisleadingLink(t *testing.T) {
	tests := []struct {
		text, url string
		want      bool
	}{
		{"docs", "https://example.com", false},
		{"example.com", "https://www.example.com/a", false},
		{"example.com docs", "https://docs.example.com", false},
		{"paypal.com", "https://evil.example", true},
		{"https://paypal.com/login", "https://evil.example/x", true},
		{"log in at www.bank.example now", "https://bank.example.evil.test", true},
		{"ceo@bank.example", "mailto:x@evil.example", true},
		{"ceo@bank.example", "mailto:ceo@bank.example", false},
		{"v1.2 notes", "https://x.test", false},
		{"PAYPAL.COM", "https://paypal.com:443/", false},
	}
	for _, tt := range tests {
		if got := MisleadingLink(tt.text, tt.url); got != tt.want {
			t.Errorf("MisleadingLink(%q, %q) = %v, want %v", tt.text, tt.url, got, tt.want)
		}
	}
}
