package casestudy_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/evaluation/casestudy"
)

// BenchmarkCaseQuery runs the app-compromise query end to end (plan,
// permission prompts answered by the scripted user, two spokes, reply) with
// the zero-latency offline model, on SecGPT and on VanillaGPT side by side.
// The difference is the cost of isolation.
func BenchmarkCaseQuery(b *testing.B) {
	c := casestudy.Cases()[0]
	for _, sys := range []string{casestudy.Vanilla, casestudy.SecGPT} {
		b.Run(sys, func(b *testing.B) {
			env := casestudy.Env{Spawner: hubtest.Spawner(b, false), Model: offline.Model{}, Dir: b.TempDir()}
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
