package hub_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/llm/offline"
	"github.com/secgpt-go/secgpt/core/state/memstore"
	"github.com/secgpt-go/secgpt/core/vocab"
	"github.com/secgpt-go/secgpt/evaluation/machine"
)

// BenchmarkConcurrentConversations is issue 11's scale figure: N
// conversations (SECGPT_SCALE_CONVERSATIONS, default 1000) arrive at once,
// each asking a different user's one-app question, with a model that takes
// SECGPT_SCALE_MODEL_LATENCY (default 2s) per call; every permission prompt
// is answered at once by a script. Each conversation runs its app in its
// own sandboxed spoke, as any other. It reports when the last answer came
// (and the median and p90), how that compares with the model latency, the
// spoke start rate, and the peak proportional memory (PSS) of the hub and
// every process under it, spokes included, sampled every 100 ms. It logs
// the machine state (evaluation/machine) before and after each run.
//
//	go test -run '^$' -bench ConcurrentConversations -benchtime 1x ./core/hub/
func BenchmarkConcurrentConversations(b *testing.B) {
	n := envInt(b, "SECGPT_SCALE_CONVERSATIONS", 1000)
	latency := 2 * time.Second
	if s := os.Getenv("SECGPT_SCALE_MODEL_LATENCY"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("SECGPT_SCALE_MODEL_LATENCY=%q: %v", s, err)
		}
		latency = d
	}
	const q = "Use quick_ride to calculate the fare for a trip from 'Main Street' to 'Elm Avenue'."
	slow := llm.ModelFunc(func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
		select {
		case <-time.After(latency):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return offline.Model{}.Generate(ctx, req)
	})
	var spokes atomic.Int64
	h := hubtest.New(b, hubtest.Options{Sandboxed: true, Model: slow, SpokeModel: slow, Store: memstore.New(memstore.Options{}),
		Apps: []ids.AppID{"quick_ride"}, SpokeTimeout: 5 * time.Minute, PromptTimeout: 5 * time.Minute,
		Trace: func(e hub.TraceEvent) {
			if e.Type == vocab.TraceSpokeStart {
				spokes.Add(1)
			}
		}})
	for b.Loop() {
		// The figures depend on what else the machine is doing and on what
		// earlier runs left for the kernel to tear down: record both.
		b.Logf("machine before: %s", machine.Read())
		spokes.Store(0)
		stop := make(chan struct{})
		peak := make(chan int64, 1)
		go func() { peak <- samplePSS(os.Getpid(), stop) }()
		lat := make([]time.Duration, n)
		var failed atomic.Int64
		var wg sync.WaitGroup
		t0 := time.Now()
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := &scripted.Conversation{A: h, User: ids.UserID(fmt.Sprintf("scale-%d", i)), Policy: scripted.AllowPlanned}
				if r := c.Send(context.Background(), q); !strings.Contains(r, "$") {
					failed.Add(1)
					if failed.Load() <= 3 {
						b.Logf("conversation %d: reply %q", i, r)
					}
				}
				lat[i] = time.Since(t0)
			}()
		}
		wg.Wait()
		close(stop)
		pss := <-peak
		if f := failed.Load(); f > 0 {
			b.Fatalf("%d of %d conversations got no fare", f, n)
		}
		slices.Sort(lat)
		last := lat[n-1]
		b.ReportMetric(float64(n), "conversations")
		b.ReportMetric(latency.Seconds(), "model-latency-s")
		b.ReportMetric(last.Seconds(), "last-answer-s")
		b.ReportMetric(lat[n/2].Seconds(), "p50-answer-s")
		b.ReportMetric(lat[n*9/10].Seconds(), "p90-answer-s")
		b.ReportMetric((last - latency).Seconds(), "beyond-one-model-call-s")
		b.ReportMetric(float64(spokes.Load())/last.Seconds(), "spokes/s")
		b.ReportMetric(float64(pss)/(1<<30), "peak-pss-GiB")
		b.Logf("machine after:  %s", machine.Read())
	}
}

func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		b.Fatalf("%s=%q: want a positive number", name, s)
	}
	return v
}

// samplePSS returns the peak, until stop closes, of the summed PSS of root
// and all its descendants.
func samplePSS(root int, stop <-chan struct{}) int64 {
	var peak int64
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if p := treePSS(root); p > peak {
			peak = p
		}
		select {
		case <-stop:
			return peak
		case <-t.C:
		}
	}
}

// treePSS sums Pss from /proc/PID/smaps_rollup over root and its
// descendants (by parent PID).
func treePSS(root int) int64 {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name (field 2) may hold spaces: fields after ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	var total int64
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		total += pss(pid)
		queue = append(queue, children[pid]...)
	}
	return total
}

func pss(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
