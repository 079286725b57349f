package spoke

import (
	"bytes"
	"net/http"
	"os"
	"slices"
	"strings"
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

func TestBinaryMain(t *testing.T) {
	enter := func() (*os.File, *http.Client, error) {
		t.Fatal("a process that is not a spoke entered the sandbox")
		return nil, nil, nil
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string // a prefix
		stderrIn string
	}{
		{"describe", []string{"x", DescribeArg}, 0, `{"protocol":`, ""},
		{"no arguments", []string{"x"}, 2, "", "usage: x describe"},
		{"anything else", []string{"x", "serve"}, 2, "", "not run by hand"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := BinaryMain("x", false, enter, tt.args, &out, &errOut)
			if code != tt.code || !strings.HasPrefix(out.String(), tt.stdout) || !strings.Contains(errOut.String(), tt.stderrIn) {
				t.Fatalf("BinaryMain(%q) = %d, stdout %q, stderr %q", tt.args, code, out.String(), errOut.String())
			}
		})
	}
}
