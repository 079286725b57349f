package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestJSONLines(t *testing.T) {
	var b bytes.Buffer
	j := newJSONLines(&b)
	j.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	for _, chunk := range []string{
		`{"time":"t","level":"INFO","msg":"from slog"}` + "\n",
		"SecGPT-Go: SecGPT (isolated", " hub and spokes)\n  model:   offline\n",
		"\n",
		"secgpt slack: token \"x\" is not a bot token\n",
		"{not json\n",
		"partial without newline",
	} {
		if _, err := j.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	want := []struct{ level, msg string }{
		{"INFO", "from slog"},
		{"INFO", "SecGPT-Go: SecGPT (isolated hub and spokes)"},
		{"INFO", "model:   offline"},
		{"ERROR", `secgpt slack: token "x" is not a bot token`},
		{"INFO", "{not json"},
		{"INFO", "partial without newline"},
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), b.String())
	}
	for i, l := range lines {
		var rec struct{ Time, Level, Msg string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("line %d is not JSON: %q", i, l)
		}
		if rec.Level != want[i].level || rec.Msg != want[i].msg || rec.Time == "" {
			t.Errorf("line %d = %+v, want %+v", i, rec, want[i])
		}
	}
}

// TestJSONLogFormatEverythingOnStderrIsJSON runs real commands with
// log.format json and checks that every stderr line parses as JSON.
func TestJSONLogFormatEverythingOnStderrIsJSON(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantMsg  string
	}{
		{name: "banner and adapter error", args: []string{"--log-format", "json", "slack"}, wantCode: 2, wantMsg: "SecGPT-Go started"},
		{name: "config error before the config is read", env: map[string]string{"SECGPT_LOG_FORMAT": "json", "SECGPT_SANDBOX": "maybe"}, wantCode: 2, wantMsg: "sandbox.mode"},
		{name: "bad flag", env: map[string]string{"SECGPT_LOG_FORMAT": "json"}, args: []string{"--nope"}, wantCode: 2, wantMsg: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, "", tt.env, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\n%s", code, tt.wantCode, errOut)
			}
			found := false
			for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
				var rec map[string]any
				if err := json.Unmarshal([]byte(l), &rec); err != nil {
					t.Errorf("stderr line is not JSON: %q", l)
					continue
				}
				if strings.Contains(l, tt.wantMsg) {
					found = true
				}
			}
			if !found {
				t.Errorf("no stderr record mentions %q:\n%s", tt.wantMsg, errOut)
			}
		})
	}
}
