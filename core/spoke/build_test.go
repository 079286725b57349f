package spoke

import (
	"slices"
	"testing"

	"github.com/secgpt-go/secgpt/core/ids"
)

func TestBuildRuns(t *testing.T) {
	hub := Build{Protocol: 3, Apps: map[string]string{"ride": "r1", "mail": "m1", "health": "h1"}}
	installed := []ids.AppID{"ride", "mail", "health", "mcp_fs"}
	tests := []struct {
		name    string
		other   Build
		want    []ids.AppID
		wantErr bool
	}{
		{"a subset", Build{Protocol: 3, Apps: map[string]string{"ride": "r1", "health": "h1"}}, []ids.AppID{"ride", "health"}, false},
		{"apps the hub has not installed are not counted", Build{Protocol: 3, Apps: map[string]string{"ride": "r1", "travel": "t9"}}, []ids.AppID{"ride"}, false},
		{"none", Build{Protocol: 3, Apps: map[string]string{}}, nil, false},
		{"a declaration differs", Build{Protocol: 3, Apps: map[string]string{"ride": "r2", "health": "h1"}}, nil, true},
		{"another protocol", Build{Protocol: 2, Apps: map[string]string{"ride": "r1"}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := hub.Runs(tt.other, installed)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Runs error = %v, want error %v", err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Runs = %v, want %v", got, tt.want)
			}
		})
	}
}
