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

// BenchmarkCaseQuery runs the app-compromise case end to end as the
// case-study runner does: each iteration builds a fresh deployment (store,
// app catalog, hub or VanillaGPT, compiled schemas) and answers the query
// with the zero-latency offline model. It measures a whole evaluation run;
// BenchmarkQuery in core/hub measures one query on a running hub.
func BenchmarkCaseQuery(b *testing.B) {
	c := casestudy.Cases()[0]
	stores := map[string]func() (state.Store, error){
		"memstore": func() (state.Store, error) { return memstore.New(memstore.Options{}), nil },
		"bolt":     nil,
	}
	// "paced" leaves the spoke pool time to refill between queries, as a
	// person's typing does; "back-to-back" measures a saturated hub.
	for _, pace := range []string{"back-to-back", "paced"} {
		for _, store := range []string{"memstore", "bolt"} {
			for _, sys := range []string{casestudy.Vanilla, casestudy.SecGPT} {
				b.Run(pace+"/"+store+"/"+sys, func(b *testing.B) {
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
}
