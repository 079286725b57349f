package auditcli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/memstore"
	"github.com/secgpt-go/secgpt/core/vocab"
	"github.com/secgpt-go/secgpt/ops/auditcli"
)

var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    state.AuditFilter
		json    bool
		wantErr bool
	}{
		{"none", nil, state.AuditFilter{}, false, false},
		{"all flags", []string{"--user", "slack:T/U", "--app", "mail", "--kind", "collab", "--type", "flow", "--limit", "5", "--json"},
			state.AuditFilter{User: "slack:T/U", App: "mail", Kind: vocab.KindCollab, Type: "flow", Limit: 5}, true, false},
		{"since duration", []string{"--since", "90m"}, state.AuditFilter{Since: now.Add(-90 * time.Minute)}, false, false},
		{"since and until RFC 3339", []string{"--since=2026-04-01T00:00:00Z", "--until", "2026-04-02T10:00:00+02:00"},
			state.AuditFilter{Since: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 4, 2, 8, 0, 0, 0, time.UTC)}, false, false},
		{"bare date", []string{"--since", "2026-04-01"}, state.AuditFilter{Since: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}, false, false},
		{"bad kind", []string{"--kind", "root"}, state.AuditFilter{}, false, true},
		{"negative limit", []string{"--limit", "-1"}, state.AuditFilter{}, false, true},
		{"bad time", []string{"--since", "yesterday"}, state.AuditFilter{}, false, true},
		{"negative duration", []string{"--since", "-1h"}, state.AuditFilter{}, false, true},
		{"until before since", []string{"--since", "1h", "--until", "2h"}, state.AuditFilter{}, false, true},
		{"unknown flag", []string{"--bogus"}, state.AuditFilter{}, false, true},
		{"stray argument", []string{"alice"}, state.AuditFilter{}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := auditcli.Parse(tc.args, now, io.Discard)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Parse(%q) err = %v, want error %v", tc.args, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if !q.Filter.Since.Equal(tc.want.Since) || !q.Filter.Until.Equal(tc.want.Until) {
				t.Errorf("times = %v..%v, want %v..%v", q.Filter.Since, q.Filter.Until, tc.want.Since, tc.want.Until)
			}
			q.Filter.Since, q.Filter.Until, tc.want.Since, tc.want.Until = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if q.Filter != tc.want || q.JSON != tc.json {
				t.Errorf("Parse(%q) = %+v json=%v, want %+v json=%v", tc.args, q.Filter, q.JSON, tc.want, tc.json)
			}
		})
	}
	if _, err := auditcli.Parse([]string{"-h"}, now, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}

func seed(t *testing.T) *memstore.Store {
	t.Helper()
	s := memstore.New(memstore.Options{})
	events := []state.AuditEvent{
		{At: time.Now().Add(-3 * time.Hour), User: "alice", Type: "decision", Kind: vocab.KindExec, App: "mail", Decision: "always"},
		{At: time.Now().Add(-2 * time.Hour), User: "bob", Type: "exec", Kind: vocab.KindExec, App: "ride"},
		{At: time.Now().Add(-time.Hour), User: "alice", Type: "flow", Kind: vocab.KindCollab, App: "mail", Requester: "ride", Detail: "line1\nFORGED\trow"},
	}
	for _, e := range events {
		if err := s.AppendAudit(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestRunTable(t *testing.T) {
	s := seed(t)
	var out bytes.Buffer
	if err := auditcli.Run(t.Context(), s, []string{"--user", "alice"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("table has %d lines, want header + 2 events:\n%s", len(lines), out.String())
	}
	for _, want := range []string{"ID", "TIME", "USER", "DETAIL"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header %q lacks %s", lines[0], want)
		}
	}
	if !strings.Contains(lines[1], "decision") || !strings.Contains(lines[1], "always") {
		t.Errorf("first row %q, want the decision event", lines[1])
	}
	if !strings.Contains(lines[2], "ride→mail") || !strings.Contains(lines[2], "line1 FORGED row") {
		t.Errorf("second row %q, want the flow with requester→app and flattened detail", lines[2])
	}
}

func TestRunJSON(t *testing.T) {
	s := seed(t)
	var out bytes.Buffer
	if err := auditcli.Run(t.Context(), s, []string{"--json", "--since", "150m", "--limit", "5"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var got []state.AuditEvent
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var e state.AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, e)
	}
	if len(got) != 2 || got[0].User != "bob" || got[1].Detail != "line1\nFORGED\trow" {
		t.Errorf("JSON lines = %+v, want bob's exec then the flow, detail intact", got)
	}
}

func TestRunBadFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := auditcli.Run(t.Context(), seed(t), []string{"--kind", "nope"}, &out, &errOut); err == nil {
		t.Error("Run with a bad kind succeeded")
	}
	if out.Len() != 0 {
		t.Errorf("printed events despite a bad flag: %q", out.String())
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"", "24h", "2026-04-01", "2026-04-01T00:00:00Z", "-1h", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := auditcli.ParseTime(s, now)
		if err == nil && strings.TrimSpace(s) != "" && got.IsZero() && !strings.HasPrefix(strings.TrimSpace(s), "0001") {
			t.Errorf("ParseTime(%q) = zero time without error", s)
		}
		if d, derr := time.ParseDuration(strings.TrimSpace(s)); derr == nil && d >= 0 && (err != nil || got.After(now)) {
			t.Errorf("ParseTime(%q) = %v, %v; a duration must give a time at or before now", s, got, err)
		}
	})
}
