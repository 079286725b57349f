package mcp

import (
	"reflect"
	"testing"
)

// TestExpandEnv: ${NAME} of the server's own environment is expanded in
// arguments; anything else stays as written.
func TestExpandEnv(t *testing.T) {
	env := map[string]string{"PG_URL": "postgres://u:p@db/x", "TOKEN": "t-1"}
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"whole", []string{"${PG_URL}"}, []string{"postgres://u:p@db/x"}},
		{"inside", []string{"--token=${TOKEN}"}, []string{"--token=t-1"}},
		{"not the server's", []string{"${HOME}", "$TOKEN", "${TOKEN"}, []string{"${HOME}", "$TOKEN", "${TOKEN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := expandEnv(tt.in, env); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("expandEnv(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
