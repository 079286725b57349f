package casestudy_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/memstore"
	"github.com/secgpt-go/secgpt/evaluation/casestudy"
)

// BenchmarkCaseQuery runs the app-compromise query end to end (plan,
// permission prompts answered by the scripted user, two spokes, reply) with
// the zero-latency offline model, on SecGPT and on VanillaGPT side by side.
// With the in-memory store the difference is the cost of isolation (spokes,
// ISC, permission checks); with the bolt file it includes the fsync of
// every grant, prompt and audit record.
func BenchmarkCaseQuery(b *testing.B) {
	c := casestudy.Cases()[0]
	stores := map[string]func() (state.Store, error){
		"memstore": func() (state.Store, error) { return memstore.New(memstore.Options{}), nil },
		"bolt":     nil,
	}
	for _, store := range []string{"memstore", "bolt"} {
		for _, sys := range []string{casestudy.Vanilla, casestudy.SecGPT} {
			b.Run(store+"/"+sys, func(b *testing.B) {
				env := casestudy.Env{Spawner: hubtest.Spawner(b, false), Model: offline.Model{}, Dir: b.TempDir(), NewStore: stores[store]}
				lat := make([]time.Duration, 0, b.N)
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					o, err := casestudy.RunOne(context.Background(), env, c, sys)
					if err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t0))
					if !o.BenignAnswered {
						b.Fatalf("query not answered: %s", o.Reply)
					}
				}
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1e3, "p50-ms")
			})
		}
	}
}
