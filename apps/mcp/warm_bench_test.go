//go:build linux

package mcp

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/chat/scripted"
)

// BenchmarkWarmInvocation measures one chat message that calls the real
// Node memory server through the hub (plan prompt, spoke, server, reply),
// with warm spokes off (a spoke and a Node start per message) and on (the
// user's spoke and server reused; one warm-up message first). Reported:
// milliseconds per message. Run:
// go test -run '^$' -bench BenchmarkWarmInvocation -benchtime 5x ./apps/mcp/
func BenchmarkWarmInvocation(b *testing.B) {
	dir := npmDir(b)
	in := install(b, memoryServer(dir), dir)
	h := in.h
	for _, c := range []struct {
		name string
		idle time.Duration
	}{{"cold", 0}, {"warm", time.Minute}} {
		b.Run(c.name, func(b *testing.B) {
			hb := in.hub(b, c.idle, 0, nil)
			conv := &scripted.Conversation{A: hb, User: "bench:user", Policy: scripted.AllowPlanned}
			send := func() {
				if r := conv.Send(context.Background(), `memory__read_graph {}`); !strings.Contains(r, "entities") {
					b.Fatalf("reply %q\n%s", r, h.log)
				}
			}
			if c.idle > 0 {
				send() // starts the warm spoke
			}
			start := time.Now()
			for b.Loop() {
				send()
			}
			b.ReportMetric(float64(time.Since(start))/float64(time.Millisecond)/float64(b.N), "ms/message")
		})
	}
}
