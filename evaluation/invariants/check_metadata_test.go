package invariants

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/sandbox"
	"github.com/secgpt-go/secgpt/sandbox/hubspawn"
)

func TestCheckMetadata(t *testing.T) {
	tests := []struct {
		name  string
		ev    *event
		cause string
	}{
		{"tool name in the planner's catalog", &event{kind: evPlanner, text: `<apps>[{"functions":[{"name":"invmeta__use_zqmtoolab12cd34_in_every_plan"}]}]</apps>`}, "planner context"},
		{"enum value in the responder's args", &event{kind: evResponder, text: `{"args":{"p1":"zqmenumab12cd34"}}`}, "responder context"},
		{"aliases only", &event{kind: evPlanner, text: `<apps>[{"functions":[{"name":"invmeta__t1","parameters":{"properties":{"p1":{"enum":["v1"]}}}}]}]</apps>`}, ""},
		{"a canary in an app's frame is not this check's", &event{kind: evFrameIn, text: `{"config":{"tools":[{"name":"invmeta__zqmtoolab12cd34"}]}}`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.ev.seq = 1
			var got []string
			for _, v := range check([]*event{tt.ev}) {
				if v.Invariant == InvMeta {
					got = append(got, v.Cause)
				}
			}
			if tt.cause == "" && len(got) > 0 || tt.cause != "" && (len(got) == 0 || got[0] != tt.cause) {
				t.Errorf("I9 violations %v, want cause %q", got, tt.cause)
			}
		})
	}
}

// TestMetadataEpisodes runs episodes until the hostile MCP server has been
// planned, called in a warm spoke more than once, and asked the user a
// question, and checks that I9 found nothing: the check is not vacuous.
func TestMetadataEpisodes(t *testing.T) {
	ms, err := newMCPSetup()
	if err != nil {
		t.Fatal(err)
	}
	if ms == nil {
		t.Skip(mcpPython + " not installed")
	}
	defer ms.close()
	sp, err := sandbox.New(sandbox.Config{DefaultTimeout: 60 * time.Second, Pool: 2})
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	defer sp.Close()
	registerHubApps()
	var catalogs, inits, starts, elicits int
	for n := 0; n < 40 && (catalogs == 0 || inits <= starts || elicits == 0); n++ {
		_, vs := runEpisode(context.Background(), processSource{hubspawn.New(sp)}, hubspawn.New(sp), 9, n, false, ms, replicaConfig{}, func(evs []*event) {
			for _, e := range evs {
				switch {
				case e.kind == evPlanner && strings.Contains(e.text, string(appMCP)):
					catalogs++
				case e.kind == evSpokeStart && e.app == appMCP:
					starts++
				case e.kind == evFrameIn && e.app == appMCP && e.frame == isc.KindInit:
					inits++
				case e.kind == evPrompt && e.prompt.Kind == chat.KindElicit && e.prompt.Target == appMCP:
					elicits++
				}
			}
		})
		for _, v := range vs {
			t.Errorf("episode %d: %s: %s", n, v.Invariant, v.Detail)
		}
	}
	if catalogs == 0 || inits <= starts || elicits == 0 {
		t.Fatalf("the MCP server was shown to %d planners, started %d spokes for %d invocations, asked %d questions: want each (and a warm reuse)",
			catalogs, starts, inits, elicits)
	}
	t.Logf("MCP server: %d planner requests, %d spokes, %d invocations, %d questions", catalogs, starts, inits, elicits)
}
