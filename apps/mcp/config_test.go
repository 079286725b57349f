package mcp

import "testing"

// TestServerCheckNames: a server reaching a spoke or a listing is held to
// config's rules for its name and env names (package entry): what config
// refuses, Check refuses too.
func TestServerCheckNames(t *testing.T) {
	tests := []struct {
		name string
		s    Server
		ok   bool
	}{
		{"plain", Server{Name: "memory", Command: "/bin/true", Env: map[string]string{"MEMORY_FILE_PATH": "/tmp/data/m"}}, true},
		{"name with a dot", Server{Name: "a.b", Command: "/bin/true"}, false},
		{"name too long", Server{Name: "a23456789012345678901234567890123456789012", Command: "/bin/true"}, false},
		{"env with =", Server{Name: "x", Command: "/bin/true", Env: map[string]string{"A=B": "c"}}, false},
		{"env starting with a digit", Server{Name: "x", Command: "/bin/true", Env: map[string]string{"1X": "c"}}, false},
		{"env with a space", Server{Name: "x", Command: "/bin/true", Env: map[string]string{"A B": "c"}}, false},
		{"empty env name", Server{Name: "x", Command: "/bin/true", Env: map[string]string{"": "c"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.s.Check(); (err == nil) != tt.ok {
				t.Errorf("Check() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
