//go:build linux

package mcp

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/sandbox"
)

// BenchmarkWarmInvocation measures one chat message that calls the real
// Node memory server through the hub (plan prompt, spoke, server, reply),
// with warm spokes off (a spoke and a Node start per message) and on (the
// user's spoke and server reused; one warm-up message first). Reported:
// milliseconds per message. Run:
// go test -run '^$' -bench BenchmarkWarmInvocation -benchtime 5x ./apps/mcp/
func BenchmarkWarmInvocation(b *testing.B) {
	dir := npmDir(b)
	h := newHarness(b)
	h.npm = dir
	s := node(dir, "server-memory")
	s.Data = true
	s.Env = map[string]string{"MEMORY_FILE_PATH": DataVar + "/memory.jsonl"}
	s = h.discover(s)
	raw, _ := json.Marshal(s)
	a, err := New(s.ID(), raw)
	if err != nil {
		b.Fatal(err)
	}
	cat, err := apps.NewCatalog(nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := cat.Add(a); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		idle time.Duration
	}{{"cold", 0}, {"warm", time.Minute}} {
		b.Run(c.name, func(b *testing.B) {
			hb, err := hub.New(hub.Options{
				Store: hubtest.Store(b), Catalog: cat, Model: stepPlanner{app: s.ID()}, Spawner: hub.Processes(h.sp),
				AppConfig: map[ids.AppID]json.RawMessage{s.ID(): raw}, PromptTimeout: 10 * time.Second, WarmIdle: c.idle,
				Limits: sandbox.Limits{Memory: 1 << 30, OpenFiles: 256, Procs: 128},
				SpokePolicy: func(_ context.Context, _ ids.AppID, user ids.UserID, p *sandbox.Policy) error {
					ms, err := Mounts(s, []sandbox.Mount{{Source: dir}}, h.data, user)
					p.Mounts = ms
					return err
				},
			})
			if err != nil {
				b.Fatal(err)
			}
			defer hb.Close()
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
