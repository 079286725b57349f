package invariants

import (
	"context"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/sandbox/hubspawn"
)

// TestCheckURLSecrets: a url secret may be in the remote server's own
// frames only; anywhere else the checker reports it.
func TestCheckURLSecrets(t *testing.T) {
	const sec = "zqskeyab12cd34"
	tests := []struct {
		name  string
		ev    *event
		cause string
	}{
		{"the server's own init", &event{kind: evFrameIn, app: appRemote, frame: isc.KindInit, text: `{"config":{"url":"https://h/mcp?api_key=` + sec + `"}}`}, ""},
		{"the server's own error", &event{kind: evFrameOut, app: appRemote, text: `Post "https://h/mcp?api_key=` + sec + `"`}, ""},
		{"another app's frame", &event{kind: evFrameIn, app: appA, text: sec}, "url secret in a frame to inv_alpha"},
		{"an audit entry", &event{kind: evAudit, audit: &state.AuditEvent{Detail: "spoke killed (" + sec + ")"}}, "url secret in an audit entry"},
		{"the hub's log", &event{kind: evLog, text: "WARN spoke ended err=" + sec}, "url secret in the hub's log"},
		{"a reply", &event{kind: evReply, text: "app mcp.invremote failed: " + sec}, "url secret in a reply"},
		{"the responder", &event{kind: evResponder, text: sec}, "url secret in the responder's context"},
		{"the planner", &event{kind: evPlanner, text: sec}, "url secret in the planner's context"},
		{"a referenced name is no secret", &event{kind: evLog, text: "api_key=${R_KEY}"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.ev.seq = 1
			vs := checkURLSecrets([]*event{tt.ev}, []string{sec})
			switch {
			case tt.cause == "" && len(vs) > 0:
				t.Errorf("violations %+v, want none", vs)
			case tt.cause != "" && (len(vs) != 1 || vs[0].Cause != tt.cause || vs[0].Invariant != InvCredential):
				t.Errorf("violations %+v, want one with cause %q", vs, tt.cause)
			}
		})
	}
}

// TestURLSecretEpisodes runs sandboxed episodes until the remote server
// with url secrets has been invoked (each invocation fails at connect,
// and the client's error quotes its url) and checks that I12 found its
// secrets nowhere but in its own spokes: not in the replies, the audit
// log, the hub's log or a model's context.
func TestURLSecretEpisodes(t *testing.T) {
	sp := metadataSandbox(t)
	ms, err := newMCPSetup()
	if err != nil {
		t.Fatal(err)
	}
	defer ms.close()
	var inits, failed int
	for n := 0; n < 60 && inits < 2; n++ {
		if !remoteEpisode(episodeSeed(9, n)) {
			continue
		}
		secrets := newRemote(episodeSeed(9, n)).values()
		_, vs := runEpisode(context.Background(), processSource{hubspawn.New(sp)}, hubspawn.New(sp), 9, n, false, ms, replicaConfig{}, func(evs []*event) {
			for _, e := range evs {
				if e.kind == evFrameIn && e.app == appRemote && e.frame == isc.KindInit && strings.Contains(e.text, secrets[0]) {
					inits++
				}
				if e.kind == evReply && strings.Contains(e.text, "app "+string(appRemote)+" failed") {
					failed++
				}
			}
		})
		for _, v := range vs {
			t.Errorf("episode %d: %s: %s", n, v.Invariant, v.Detail)
		}
	}
	if inits < 2 || failed == 0 {
		t.Fatalf("the remote server's spokes got its url %d times and %d replies said it failed: want both", inits, failed)
	}
	t.Logf("remote server: %d invocations with its url, %d failures reported", inits, failed)
}
