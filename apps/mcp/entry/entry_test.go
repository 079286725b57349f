package entry

import (
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"memory", true},
		{"server-filesystem", true},
		{"gh_2", true},
		{"0x", true},
		{strings.Repeat("a", MaxName), true},
		{strings.Repeat("a", MaxName+1), false},
		{"", false},
		{"Bad", false},
		{"-x", false},
		{"_x", false},
		{"a.b", false},
		{"a b", false},
		{"naïve", false},
		{"a\n", false},
	}
	for _, tt := range tests {
		if err := CheckName(tt.name); (err == nil) != tt.ok {
			t.Errorf("CheckName(%q) = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestCheckEnvName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"GITHUB_TOKEN", true},
		{"_x", true},
		{"a1", true},
		{"", false},
		{"A=B", false},
		{"A\x00", false},
		{"1X", false},
		{"A B", false},
		{"A-B", false},
		{"É", false},
	}
	for _, tt := range tests {
		if err := CheckEnvName(tt.name); (err == nil) != tt.ok {
			t.Errorf("CheckEnvName(%q) = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
