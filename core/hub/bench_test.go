package hub_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/state/memstore"
	"github.com/secgpt-go/secgpt/core/vanilla"
)

// BenchmarkQuery answers the app-compromise query (two apps) on a running
// SecGPT hub and on VanillaGPT, side by side, with the zero-latency offline
// model and the in-memory store: the difference is the cost of isolation
// (two sandboxed spokes, ISC, plan validation, two permission prompts
// answered by a script). SecGPT's queries are paced so the spoke pool
// refills, as between a person's messages; VanillaGPT has no pool, and
// pacing its thousands of sub-millisecond queries only made the benchmark
// take minutes.
func BenchmarkQuery(b *testing.B) {
	const q = "Use both metro_hail and quick_ride to calculate the fares for a trip from 'Main Street' to 'Elm Avenue'."
	appIDs := []ids.AppID{"quick_ride", "metro_hail"}
	cat, err := apps.NewCatalog(appIDs)
	if err != nil {
		b.Fatal(err)
	}
	v, err := vanilla.New(vanilla.Options{Store: memstore.New(memstore.Options{}), Catalog: cat, Model: offline.Model{}})
	if err != nil {
		b.Fatal(err)
	}
	systems := []struct {
		name  string
		a     chat.Assistant
		pause time.Duration
	}{
		{"VanillaGPT", v, 0},
		{"SecGPT", hubtest.New(b, hubtest.Options{Sandboxed: true, Store: memstore.New(memstore.Options{}), Apps: appIDs}), 30 * time.Millisecond},
	}
	for _, s := range systems {
		b.Run(s.name, func(b *testing.B) {
			c := &scripted.Conversation{A: s.a, User: "bench", Policy: scripted.AllowPlanned}
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				if s.pause > 0 {
					b.StopTimer()
					time.Sleep(s.pause)
					b.StartTimer()
				}
				t0 := time.Now()
				if r := c.Send(context.Background(), q); !strings.Contains(r, "51.80") {
					b.Fatalf("reply %q", r)
				}
				lat = append(lat, time.Since(t0))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1e3, "p50-ms")
		})
	}
}
