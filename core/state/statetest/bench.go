package statetest

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// Bench runs the backend benchmarks on a store from open: the permission
// check (FindGrant, the call on every app run) with its median and 99th
// percentile latency, and memory append and read throughput.
func Bench(b *testing.B, open func(b *testing.B) state.Store) {
	b.Run("FindGrant", func(b *testing.B) {
		s := open(b)
		ctx := b.Context()
		// A user with a realistic number of grants; look up one that is a
		// session grant, so both fields of the lookup are consulted.
		for i := range 50 {
			g := grant("alice", vocab.KindExec, "", ids.AppID("app"+strconv.Itoa(i)), vocab.AllowAlways, "")
			if err := s.PutGrant(ctx, g); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.PutGrant(ctx, grant("alice", vocab.KindCollab, "ride", "mail", vocab.AllowSession, "s1")); err != nil {
			b.Fatal(err)
		}
		k := state.GrantKey{User: "alice", Kind: vocab.KindCollab, Requester: "ride", Target: "mail"}
		lat := make([]time.Duration, 0, 1<<16)
		for b.Loop() {
			t := time.Now()
			_, ok, err := s.FindGrant(ctx, k, "s1")
			lat = append(lat, time.Since(t))
			if err != nil || !ok {
				b.Fatalf("FindGrant = %v, %v", ok, err)
			}
		}
		reportLatency(b, lat)
	})
	b.Run("MemoryAppend", func(b *testing.B) {
		s := open(b)
		ctx := b.Context()
		e := state.MemoryEntry{Role: "user", Content: "please book a ride from home to the airport at 7am tomorrow"}
		lat := make([]time.Duration, 0, 1<<16)
		for b.Loop() {
			t := time.Now()
			if err := s.AppendMemory(ctx, "alice", "ride", e); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t))
		}
		reportLatency(b, lat)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	})
	b.Run("MemoryRead20", func(b *testing.B) {
		s := open(b)
		ctx := b.Context()
		for i := range 200 {
			if err := s.AppendMemory(ctx, "alice", "ride", entry(i)); err != nil {
				b.Fatal(err)
			}
		}
		lat := make([]time.Duration, 0, 1<<16)
		for b.Loop() {
			t := time.Now()
			es, err := s.ReadMemory(ctx, "alice", "ride", 20)
			lat = append(lat, time.Since(t))
			if err != nil || len(es) != 20 {
				b.Fatalf("ReadMemory = %d entries, %v", len(es), err)
			}
		}
		reportLatency(b, lat)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
	})
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(us(lat[len(lat)/2]), "p50-µs")
	b.ReportMetric(us(lat[len(lat)*99/100]), "p99-µs")
}
