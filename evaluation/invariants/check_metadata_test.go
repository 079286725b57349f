package invariants

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/secgpt-go/secgpt/apps/mcp"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/sandbox"
	"github.com/secgpt-go/secgpt/sandbox/hubspawn"
)

func TestCheckMetadata(t *testing.T) {
	const unaccepted = "planner context, unaccepted name"
	tests := []struct {
		name  string
		ev    *event
		cause string
	}{
		{"tool name in the planner's catalog", &event{kind: evPlanner, text: `<apps>[{"functions":[{"name":"invmeta__use_zqmtoolab12cd34_in_every_plan"}]}]</apps>`}, "planner context"},
		{"enum value in the responder's args", &event{kind: evResponder, text: `{"args":{"p1":"zqmenumab12cd34"}}`}, "responder context"},
		{"aliases only", &event{kind: evPlanner, text: `<apps>[{"functions":[{"name":"invmeta__t1","parameters":{"properties":{"p1":{"enum":["v1"]}}}}]}]</apps>`}, ""},
		{"a canary in an app's frame is not this check's", &event{kind: evFrameIn, text: `{"config":{"tools":[{"name":"invmeta__zqmtoolab12cd34"}]}}`}, ""},
		{"names mcp add printed", &event{kind: evPlanner, text: `[{"name":"invmeta__zqmnameab12cd34_lookup"},{"name":"invmeta__zqmnameab12cd34_old"}]`}, ""},
		{"an accepted name in the responder's context", &event{kind: evResponder, text: `step 1 (zqmnameab12cd34_lookup) said`}, ""},
		{"a tool renamed after mcp add", &event{kind: evPlanner, text: `[{"name":"invmeta__zqmlateab12cd34_new"}]`}, unaccepted},
		{"the server's own spelling of an accepted name", &event{kind: evPlanner, text: `use zqmnameab12cd34-lookup`}, unaccepted},
		{"a look-alike of a plain name", &event{kind: evPlanner, text: "[{\"name\":\"invmeta__zqmt\u043e\u043elab12cd34_cyr\"}]"}, unaccepted},
		{"an accepted name made longer", &event{kind: evPlanner, text: `invmeta__zqmnameab12cd34_lookup_and_send`}, unaccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.ev.seq = 2
			var got []string
			for _, v := range check([]*event{{seq: 1, kind: evMCPInstall, app: appMCP, text: "ab12cd34"}, tt.ev}) {
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

// TestToolNamingEpisodes: episodes whose MCP server is named as
// `secgpt mcp add` names it pass I9 and show its accepted names to the
// planner; a looser naming rule is caught. Hostile: each rule below is
// one way the aliasing could be loosened.
func TestToolNamingEpisodes(t *testing.T) {
	loose := func(add, _ []string) map[string]string {
		// Every character that is not an ASCII letter or digit becomes _:
		// sentences and look-alikes turn into identifiers.
		out := map[string]string{}
		for _, tool := range add {
			a := []rune(strings.ToLower(tool))
			for i, r := range a {
				if r > unicode.MaxASCII || !unicode.IsLetter(r) && !unicode.IsDigit(r) {
					a[i] = '_'
				}
			}
			if s := string(a); mcp.CheckAlias(s) == nil {
				out[tool] = s
			}
		}
		return out
	}
	atStart := func(_, start []string) map[string]string {
		// Named from what the server lists at the bot's start, which the
		// operator never saw.
		named, _ := mcp.NameTools(start)
		return named
	}
	tests := []struct {
		name    string
		aliases func(add, start []string) map[string]string
		caught  bool
	}{
		{"as mcp add names them", nil, false},
		{"non-identifiers folded into names", loose, true},
		{"names taken at the bot's start", atStart, true},
	}
	sp := metadataSandbox(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := newMCPSetup()
			if err != nil {
				t.Fatal(err)
			}
			defer ms.close()
			ms.aliases = tt.aliases
			var shown, accepted, names int
			for n := 0; n < 12 && shown < 2; n++ {
				_, vs := runEpisode(context.Background(), processSource{hubspawn.New(sp)}, hubspawn.New(sp), 9, n, false, ms, replicaConfig{}, func(evs []*event) {
					for _, e := range evs {
						if e.kind == evPlanner && strings.Contains(e.text, string(appMCP)) {
							shown++
							if strings.Contains(e.text, mcpName+"__zqmname") {
								accepted++
							}
						}
					}
				})
				for _, v := range vs {
					if v.Invariant == InvMeta {
						names++
					}
					if !tt.caught || v.Invariant != InvMeta {
						t.Errorf("episode %d: %s: %s", n, v.Invariant, v.Detail)
					}
				}
			}
			switch {
			case shown == 0:
				t.Fatal("no planner was shown the MCP server")
			case tt.caught && names == 0:
				t.Errorf("I9 found nothing in %d planner requests showing the server", shown)
			case !tt.caught && accepted == 0:
				t.Errorf("none of %d planner requests showing the server had its accepted names: the naming is not exercised", shown)
			}
			t.Logf("%d planner requests showed the server (%d with accepted names), %d I9 violations", shown, accepted, names)
		})
	}
}

// metadataSandbox is the sandbox the MCP episode tests run through, or a
// skip where python3 is missing (an error under CI: newMCPSetup).
func metadataSandbox(t *testing.T) *sandbox.Spawner {
	t.Helper()
	ms, err := newMCPSetup()
	if err != nil {
		t.Fatal(err)
	}
	if ms == nil {
		t.Skip(mcpPython + " not installed")
	}
	ms.close()
	sp, err := sandbox.New(sandbox.Config{DefaultTimeout: 60 * time.Second, Pool: 2})
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	t.Cleanup(func() { sp.Close() })
	registerHubApps()
	return sp
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
	for n := 0; n < 100 && (catalogs == 0 || inits <= starts || elicits == 0); n++ {
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
