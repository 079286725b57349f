package relational

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/plan"
)

func TestMain(m *testing.M) { hubtest.Main(m) }

// TestSuite runs all 21 questions on both systems, in both grant modes.
func TestSuite(t *testing.T) {
	for _, mode := range []Grants{GrantsOnce, GrantsAlways} {
		t.Run(string(mode), func(t *testing.T) {
			rows, err := Run(context.Background(), Env{Spawner: hubtest.Spawner(t, false), Grants: mode})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2*21 {
				t.Fatalf("%d rows, want 42", len(rows))
			}
			bySys := map[int]map[string]Row{}
			for _, r := range rows {
				if bySys[r.Query] == nil {
					bySys[r.Query] = map[string]Row{}
				}
				bySys[r.Query][r.System] = r
				if !r.TrajectoryOK {
					t.Errorf("query %d on %s: trajectory %v, expected %v (order matters: %v)", r.Query, r.System, r.Trajectory, r.Expected, r.OrderMatters)
				}
				if !r.AnswerOK {
					t.Errorf("query %d on %s: reference %q not in reply %q", r.Query, r.System, r.Reference, r.Reply)
				}
				if r.ToolCalls != len(r.Expected) {
					t.Errorf("query %d on %s: %d tool calls, expected %d", r.Query, r.System, r.ToolCalls, len(r.Expected))
				}
				// VanillaGPT: one request per call plus the answer. SecGPT:
				// the plan, one spoke turn per step fed by a search (the
				// hits do not fit an ID argument), and the responder unless
				// the one step's result is a plain value.
				wantCalls := len(r.Expected) + 1
				if r.System == SecGPT {
					wantCalls = secgptCalls(Queries()[r.Query-1])
				}
				if r.ModelCalls != wantCalls {
					t.Errorf("query %d on %s: %d model calls, want %d", r.Query, r.System, r.ModelCalls, wantCalls)
				}
				switch {
				case r.System == Vanilla && r.Prompts != 0:
					t.Errorf("query %d: VanillaGPT prompted %d times", r.Query, r.Prompts)
				case r.System == SecGPT && mode == GrantsAlways && r.Prompts != 0:
					t.Errorf("query %d: %d prompts despite stored grants", r.Query, r.Prompts)
				case r.System == SecGPT && mode == GrantsOnce && r.Prompts != 1:
					t.Errorf("query %d: %d prompts for a plan of %d steps, want one", r.Query, r.Prompts, len(r.Expected))
				}
			}
			sm := Summarize(rows)
			if sm.ModelCallsSecGPT > sm.ModelCallsVanilla || sm.MaxExcessCalls > 1 {
				t.Errorf("model calls: SecGPT %d against VanillaGPT %d, at most %+d on one question", sm.ModelCallsSecGPT, sm.ModelCallsVanilla, sm.MaxExcessCalls)
			}
			for q, m := range bySys {
				v, s := m[Vanilla], m[SecGPT]
				if len(v.Calls) == 0 || !sameCalls(v.Calls, s.Calls) || !s.SameCalls {
					t.Errorf("query %d: calls differ\n VanillaGPT %v\n SecGPT     %v", q, v.Calls, s.Calls)
				}
			}
			var b bytes.Buffer
			if err := WriteTable(&b, rows); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), "SecGPT 21/21") || !strings.Contains(b.String(), GroupMany) {
				t.Errorf("table:\n%s", b.String())
			}
			gs := Groups(rows)
			if len(gs) != 3 || gs[0].Queries != 14 || gs[1].Queries != 7 || gs[2].Queries != 21 {
				t.Errorf("groups %+v, want 14 + 7 = 21 questions", gs)
			}
		})
	}
}

// The calls that carry an earlier result must receive the value the earlier
// call produced, not a constant: Bob's location (2) reaches
// get_city_for_location only through <result_2>.
func TestResultsTravel(t *testing.T) {
	sp := hubtest.Spawner(t, false)
	q := Queries()[15]
	for _, sys := range []string{Vanilla, SecGPT} {
		r, err := RunOne(context.Background(), Env{Spawner: sp}, q, sys, 1)
		if err != nil {
			t.Fatal(err)
		}
		// Whole-argument references substitute typed values: IDs stay numbers.
		want := []string{`find_users_by_name {"name":"bob"}`, `get_user_location {"user_id":21}`, `get_city_for_location {"location_id":2}`}
		if !slices.Equal(r.Calls, want) {
			t.Errorf("%s calls %v, want %v", sys, r.Calls, want)
		}
	}
}

func TestQueriesData(t *testing.T) {
	qs := Queries()
	if len(qs) != 21 {
		t.Fatalf("%d queries", len(qs))
	}
	groups := map[string]int{}
	for i, q := range qs {
		if q.N != i+1 {
			t.Errorf("query %d at position %d", q.N, i+1)
		}
		groups[q.Group()]++
		var tools []string
		for _, c := range q.Calls {
			tools = append(tools, c.Tool)
		}
		if !TrajectoryMatches(tools, q.Expected, q.OrderMatters) {
			t.Errorf("query %d: plan calls %v, expected %v", q.N, tools, q.Expected)
		}
	}
	if groups[GroupFew] != 14 || groups[GroupMany] != 7 {
		t.Errorf("groups %v, want 14 and 7 as in the paper", groups)
	}
}

func TestContainsAnswer(t *testing.T) {
	tests := []struct {
		name, reply, ref string
		want             bool
	}{
		{"list", "The allergens in chocolate: Milk, Soy.", "milk, soy", true},
		{"degree sign", "The weather in LA right now: Sunny, Temperature: 75°F.", "Sunny, Temperature: 75°F", true},
		{"word not prefix", "It is not raining.", "no", false},
		{"number inside id", "User 21 is Bob.", "1", false},
		{"number", "There are 1 users named bob.", "1", true},
		{"empty reference", "anything", "", false},
		{"missing", "Bob lives in Chicago.", "Los Angeles", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ContainsAnswer(tt.reply, tt.ref); got != tt.want {
				t.Errorf("ContainsAnswer(%q, %q) = %v", tt.reply, tt.ref, got)
			}
		})
	}
}

func TestTrajectoryMatches(t *testing.T) {
	a, b, c := "find_users_by_name", "get_user_location", "get_city_for_location"
	tests := []struct {
		name      string
		got, want []string
		order     bool
		match     bool
	}{
		{"exact", []string{a, b}, []string{a, b}, true, true},
		{"order wrong", []string{b, a}, []string{a, b}, true, false},
		{"order free", []string{b, a}, []string{a, b}, false, true},
		{"repeat counts", []string{a, b, c}, []string{a, b, c, b, c}, false, false},
		{"extra call", []string{a, a, b}, []string{a, b}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TrajectoryMatches(tt.got, tt.want, tt.order); got != tt.match {
				t.Errorf("got %v", got)
			}
		})
	}
}

// BenchmarkSuite runs the 21 questions on both systems per iteration and
// reports the median latency per system.
func BenchmarkSuite(b *testing.B) {
	sp := hubtest.Spawner(b, false)
	for _, mode := range []Grants{GrantsOnce, GrantsAlways} {
		b.Run("grants="+string(mode), func(b *testing.B) {
			var rows []Row
			for b.Loop() {
				rs, err := Run(context.Background(), Env{Spawner: sp, Grants: mode})
				if err != nil {
					b.Fatal(err)
				}
				rows = append(rows, rs...)
			}
			for _, g := range Groups(rows) {
				if g.Group != "all" {
					continue
				}
				b.ReportMetric(g.VanillaMedianMS, "vanilla-median-ms")
				b.ReportMetric(g.SecGPTMedianMS, "secgpt-median-ms")
				b.ReportMetric(g.OverheadMedianMS, "overhead-median-ms")
			}
		})
	}
}

// The oracle reads task text and tool results it did not write; whatever
// they say, it answers without panicking.
func FuzzOracle(f *testing.F) {
	f.Add("Task: x\nFunction: get_user_email\nArguments: {\"user_id\":\"1\"}\nQuestion: do alice and charlie use the same email provider?\nResult 1: 1", "get_user_email", "alice@gmail.com")
	f.Add("Task: y\nFunction: find_users_by_name\nArguments: {\"name\": 3}\nResult 99: z", "find_users_by_name", `[{"id":1,"name":"Alice"}]`)
	f.Add("do bob and alice live in the same city?", "find_users_by_name", `[]`)
	o := NewOracle()
	f.Fuzz(func(t *testing.T, user, tool, result string) {
		tools := []llm.Tool{{Name: tool}, {Name: "get_user_email"}, {Name: "find_users_by_name"}}
		for _, req := range []*llm.Request{
			{Messages: []llm.Message{{Role: llm.RoleUser, Content: user}}, Tools: tools},
			{Messages: []llm.Message{{Role: llm.RoleUser, Content: user},
				{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "c", Name: tool, Arguments: json.RawMessage(result)}}},
				{Role: llm.RoleTool, ToolCallID: "c", Name: tool, Content: result}}, Tools: tools},
			{Messages: []llm.Message{{Role: llm.RoleUser, Content: user}}, Tools: []llm.Tool{{Name: plan.ToolName}}},
		} {
			if _, err := o.Generate(context.Background(), req); err != nil && req.HasTool(plan.ToolName) {
				t.Errorf("planner: %v", err)
			}
		}
	})
}

// secgptCalls is SecGPT's model-call count for q with the oracle.
func secgptCalls(q Query) int {
	n := 1
	for _, c := range q.Calls {
		for _, m := range refRE.FindAllStringSubmatch(c.Args, -1) {
			if k, _ := strconv.Atoi(m[1]); strings.HasPrefix(q.Calls[k-1].Tool, "find_") {
				n++
			}
		}
	}
	if len(q.Calls) > 1 || strings.HasPrefix(q.Calls[0].Tool, "find_") {
		n++ // the responder
	}
	return n
}

func TestParseLatency(t *testing.T) {
	tests := []struct {
		in   string
		d, j time.Duration
		ok   bool
	}{
		{"", 0, 0, true}, {"500ms", 500 * time.Millisecond, 0, true}, {"500ms±200ms", 500 * time.Millisecond, 200 * time.Millisecond, true},
		{"1s+-100ms", time.Second, 100 * time.Millisecond, true}, {"500", 0, 0, false}, {"100ms±1s", 0, 0, false}, {"-1s", 0, 0, false},
	}
	for _, tt := range tests {
		d, j, err := ParseLatency(tt.in)
		if (err == nil) != tt.ok || d != tt.d || j != tt.j {
			t.Errorf("ParseLatency(%q) = %v, %v, %v", tt.in, d, j, err)
		}
	}
}

// The simulated latency draws the same jitter for the k-th call of a
// question on both systems, within D±J.
func TestModelLatencyIsSharedAndBounded(t *testing.T) {
	env := Env{ModelLatency: 20 * time.Millisecond, ModelJitter: 10 * time.Millisecond}
	for k := 1; k <= 5; k++ {
		start := time.Now()
		if err := env.wait(context.Background(), 6, 1, k); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < 10*time.Millisecond {
			t.Errorf("call %d waited %v, want at least D-J", k, el)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (Env{ModelLatency: time.Hour}).wait(ctx, 1, 1, 1); err == nil {
		t.Error("a cancelled wait returned no error")
	}
}
