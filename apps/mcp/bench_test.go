//go:build linux

package mcp

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"

	_ "github.com/secgpt-go/secgpt/apps/mail" // the built-in app compared with
)

// BenchmarkCalls measures, in real sandboxed spokes, one invocation that
// calls its function three times: a Node MCP server (the real memory
// server) beside a built-in app (search_gmail on its fixture mailbox).
// Reported per invocation: spawn until the spoke is ready, the first call
// (for the MCP server: starting node, the MCP handshake and the call), the
// warm calls that follow in the same spoke (mean), and the whole
// invocation. Run: go test -run '^$' -bench BenchmarkCalls -benchtime 10x ./apps/mcp/
func BenchmarkCalls(b *testing.B) {
	dir := npmDir(b)
	h := newHarness(b)
	h.npm = dir
	mem := h.discover(memoryServer(dir))
	memCfg, _ := json.Marshal(mem)
	cases := []struct {
		name string
		app  ids.AppID
		cfg  json.RawMessage
		pol  func() hub.SpokeSpec
		fn   string
		args string
	}{
		{"node-mcp-memory", mem.ID(), memCfg, func() hub.SpokeSpec { return h.policy(mem, "bench:user") }, "memory__read_graph", `{}`},
		{"builtin-search_gmail", "search_gmail", nil, func() hub.SpokeSpec {
			return hub.SpokeSpec{App: "search_gmail", Timeout: 60 * time.Second}
		}, "search_gmail", `{"query":"lunch"}`},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var ready, first, warm, total time.Duration
			warmN := 0
			for b.Loop() {
				_, tm, err := h.invoke(c.app, c.cfg, c.pol(), c.fn, c.args, 3)
				if err != nil {
					b.Fatalf("%v\n%s", err, h.log)
				}
				ready += tm.ready
				total += tm.total
				first += tm.calls[0]
				for _, w := range tm.calls[1:] {
					warm += w
					warmN++
				}
			}
			n := float64(b.N)
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			b.ReportMetric(ms(ready)/n, "ready-ms")
			b.ReportMetric(ms(first)/n, "first-call-ms")
			b.ReportMetric(ms(warm)/float64(warmN), "warm-call-ms")
			b.ReportMetric(ms(total)/n, "invocation-ms")
		})
	}
}
