package hub_test

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/secgpt-go/secgpt/config"
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
// spoke start rate, the peak proportional memory (PSS) of the hub and
// every process under it, spokes included, sampled every 250 ms
// (SECGPT_SCALE_PSS_EVERY; reading every spoke's memory map costs CPU the
// benchmark reports apart, pss-sampler-cpu-ms/conv), and the
// CPU time per conversation: the hub's own, and the whole process tree's
// (the hub, the fork server and every spoke; less sensitive to what else
// the machine runs than the wall times). It logs the machine state
// (evaluation/machine) before and after each run.
//
// Spokes run from the binaries production runs them from, built into a
// temporary directory first: cmd/secgpt-spoke-local for quick_ride and the
// pool, cmd/secgpt-spoke for the others (SECGPT_SCALE_SPOKE=full runs every
// spoke from secgpt-spoke, as without secgpt-spoke-local installed; =test
// runs the test binary), with the sandbox's pool as configured by
// default: sandbox.pool 2 and sandbox.pool_memory
// (SECGPT_SCALE_POOL_MEMORY overrides it, in bytes; 0 turns off starting
// spokes while conversations plan).
//
//	go test -run '^$' -bench ConcurrentConversations -benchtime 1x ./core/hub/
func BenchmarkConcurrentConversations(b *testing.B) {
	n := envInt(b, "SECGPT_SCALE_CONVERSATIONS", 1000, 1)
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
	every := 250 * time.Millisecond
	if s := os.Getenv("SECGPT_SCALE_PSS_EVERY"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			b.Fatalf("SECGPT_SCALE_PSS_EVERY=%q: want a positive duration", s)
		}
		every = d
	}
	poolMem := int64(config.DefaultPoolMemory)
	if os.Getenv("SECGPT_SCALE_POOL_MEMORY") != "" {
		poolMem = int64(envInt(b, "SECGPT_SCALE_POOL_MEMORY", 0, 0))
	}
	var exe, local string
	switch v := os.Getenv("SECGPT_SCALE_SPOKE"); v {
	case "", "lean":
		exe, local = buildSpokes(b)
	case "full":
		exe, _ = buildSpokes(b)
	case "test":
	default:
		b.Fatalf("SECGPT_SCALE_SPOKE=%q: want lean, full or test", v)
	}
	b.Logf("spoke binary: %s, for apps without network: %s, pool_memory %d MiB", cmp.Or(exe, "the test binary"), cmp.Or(local, "the same"), poolMem>>20)
	var spokes atomic.Int64
	h := hubtest.New(b, hubtest.Options{Sandboxed: true, Model: slow, SpokeModel: slow, Store: memstore.New(memstore.Options{}),
		Apps: []ids.AppID{"quick_ride"}, SpokeTimeout: 5 * time.Minute, PromptTimeout: 5 * time.Minute,
		SpokeBinary: exe, LocalSpokeBinary: local, LocalApps: []ids.AppID{"quick_ride"}, PoolMemory: poolMem,
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
		peak := make(chan sample, 1)
		go func() { peak <- samplePSS(os.Getpid(), every, stop) }()
		before := len(descendants(os.Getpid()))
		lat := make([]time.Duration, n)
		var failed atomic.Int64
		var wg sync.WaitGroup
		hub0, tree0 := selfCPU(), treeCPU(os.Getpid())
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
		// The spokes' ends (their teardown is not waited for by the
		// replies) are part of what a conversation costs; the waiting
		// for them is not.
		waited := waitDescendants(before, 10*time.Second)
		hub1, tree1 := selfCPU(), treeCPU(os.Getpid())
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
		b.ReportMetric(float64(pss.peak)/(1<<30), "peak-pss-GiB")
		// The sampler's reading of every spoke's memory map is the
		// benchmark's CPU, not the hub's: it is reported and taken out.
		perConv := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(n) }
		b.ReportMetric(perConv(hub1-hub0-pss.cpu-waited), "hub-cpu-ms/conv")
		b.ReportMetric(perConv(tree1-tree0-pss.cpu-waited), "tree-cpu-ms/conv")
		b.ReportMetric(perConv(pss.cpu), "pss-sampler-cpu-ms/conv")
		b.Logf("machine after:  %s", machine.Read())
	}
}

// envInt reads a whole number of at least least from the environment
// variable name, or returns def when it is unset.
func envInt(b *testing.B, name string, def, least int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < least {
		b.Fatalf("%s=%q: want a whole number of at least %d", name, s, least)
	}
	return v
}

// buildSpokes builds the spoke binaries production runs, cmd/secgpt-spoke
// and cmd/secgpt-spoke-local, into a temporary directory.
func buildSpokes(b *testing.B) (lean, local string) {
	b.Helper()
	dir := b.TempDir()
	out, err := exec.Command("go", "build", "-o", dir+"/", "github.com/secgpt-go/secgpt/cmd/secgpt-spoke", "github.com/secgpt-go/secgpt/cmd/secgpt-spoke-local").CombinedOutput()
	if err != nil {
		b.Fatalf("go build ./cmd/secgpt-spoke ./cmd/secgpt-spoke-local: %v\n%s", err, out)
	}
	return filepath.Join(dir, "secgpt-spoke"), filepath.Join(dir, "secgpt-spoke-local")
}

// selfCPU is this process's own CPU time: the hub's, and the benchmark's
// few goroutines.
func selfCPU() time.Duration {
	var r syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// treeCPU is the CPU time of root (getrusage) and of every live
// descendant with the children it reaped (utime, stime, cutime and cstime
// of /proc/PID/stat, in clock ticks): a spoke the fork server reaped
// between two readings moves from its own count to the fork server's.
func treeCPU(root int) time.Duration {
	var ticks int64
	for pid, stat := range descendants(root) {
		if pid == root {
			continue
		}
		f := statFields(stat)
		for _, i := range []int{11, 12, 13, 14} { // utime..cstime, fields 14-17
			if i < len(f) {
				v, _ := strconv.ParseInt(f[i], 10, 64)
				ticks += v
			}
		}
	}
	return selfCPU() + time.Duration(ticks)*10*time.Millisecond
}

// sample is what samplePSS measured.
type sample struct {
	peak int64         // bytes
	cpu  time.Duration // the sampler's own CPU time
}

// samplePSS returns the peak, until stop closes, of the summed PSS of root
// and all its descendants, and the CPU time the sampling took (its own OS
// thread's).
func samplePSS(root int, every time.Duration, stop <-chan struct{}) sample {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	var s sample
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if p := treePSS(root); p > s.peak {
			s.peak = p
		}
		select {
		case <-stop:
			s.cpu = threadCPU() - cpu0
			return s
		case <-t.C:
		}
	}
}

// waitDescendants waits, at most max, until this process has no more
// descendants than n, and returns the CPU time the waiting took.
func waitDescendants(n int, max time.Duration) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	for t := time.Now(); len(descendants(os.Getpid())) > n && time.Since(t) < max; {
		time.Sleep(50 * time.Millisecond)
	}
	return threadCPU() - cpu0
}

// threadCPU is the calling OS thread's CPU time.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// treePSS sums Pss from /proc/PID/smaps_rollup over root and its
// descendants.
func treePSS(root int) int64 {
	var total int64
	for pid := range descendants(root) {
		total += pss(pid)
	}
	return total
}

// descendants returns root and every process under it (by parent PID),
// each with its /proc/PID/stat.
func descendants(root int) map[int]string {
	children := map[int][]int{}
	stats := map[int]string{}
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
		f := statFields(string(b))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
		stats[pid] = string(b)
	}
	out := map[int]string{}
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		out[pid] = stats[pid]
		queue = append(queue, children[pid]...)
	}
	return out
}

// statFields are the fields of a /proc/PID/stat line after the command
// name (which may hold spaces): f[0] is the state, f[1] the parent PID.
func statFields(stat string) []string {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(stat[i+1:])
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
