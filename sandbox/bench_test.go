//go:build linux

package sandbox

import (
	"bufio"
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkSpawn measures spawn-to-ready (Start until the spoke's first
// line arrives on the ISC socket, which it writes after Enter returned)
// without the sandbox (Config.Off), with the full sandbox started on
// demand, and with the full sandbox and a pool of two pre-started spokes,
// taking turns so that all three see the same machine load. It reports the
// medians side by side and what the sandbox adds; the reap after each spawn
// is not timed.
func BenchmarkSpawn(b *testing.B) {
	off := newSpawner(b, Config{Off: true})
	on := newSpawner(b, Config{})
	pooled := newSpawner(b, Config{Pool: 2})
	defer pooled.Close()
	var tOn, tOff, tPool []time.Duration
	once := func(s *Spawner) time.Duration {
		t0 := time.Now()
		p, err := s.Start(context.Background(), Policy{App: "bench", Args: []string{"ready"}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bufio.NewReader(p.Conn).ReadString('\n'); err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		if err := p.Wait(); err != nil {
			b.Fatal(err)
		}
		return d
	}
	for b.Loop() {
		tOff = append(tOff, once(off))
		tOn = append(tOn, once(on))
		tPool = append(tPool, once(pooled))
	}
	pOff, pOn, pPool := median(tOff), median(tOn), median(tPool)
	b.ReportMetric(ms(pOff), "off-p50-ms")
	b.ReportMetric(ms(pOn), "sandbox-p50-ms")
	b.ReportMetric(ms(pPool), "pooled-p50-ms")
	b.ReportMetric(ms(pOn-pOff), "added-p50-ms")
	b.ReportMetric(ms(pPool-pOff), "added-pooled-p50-ms")
}

func median(ds []time.Duration) time.Duration { return percentile(ds, 50) }

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
