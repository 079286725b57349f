//go:build linux

package sandbox

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/evaluation/machine"
)

// BenchmarkBurst starts a burst of spokes at once (SECGPT_BURST_SPOKES,
// default 200), each of which reports ready and exits, in turn with the
// shared network namespace and reused cgroups, with one namespace per
// spoke (as before) and with a fresh cgroup per spoke (as before), so all
// see the same machine load. Per spoke it reports the wall time of
// the burst and the CPU it cost: the hub's own, the fork server's and its
// reaped spokes' (from /proc), and the kernel workers' across the machine
// (cleanup_net and the like run there, unattributed; other work on the
// machine lands there too). After each burst it waits up to 10 s for the
// kernel to free the burst's network namespaces and reports how long that
// took. The machine state is logged before and after.
func BenchmarkBurst(b *testing.B) {
	n := 200
	if v, err := strconv.Atoi(os.Getenv("SECGPT_BURST_SPOKES")); err == nil && v > 0 {
		n = v
	}
	b.Logf("machine before: %s", machine.Read())
	for b.Loop() {
		for _, v := range []struct {
			name              string
			own, freshCgroups bool
		}{{"shared", false, false}, {"own", true, false}, {"fresh-cgroups", false, true}} {
			s := newSpawner(b, Config{})
			s.ownNet, s.freshCgroups = v.own, v.freshCgroups
			name := v.name
			one := func() error {
				p, err := s.Start(context.Background(), Policy{App: "bench", Args: []string{"ready"}, Timeout: time.Minute})
				if err != nil {
					return err
				}
				_, err = bufio.NewReader(p.Conn).ReadString('\n')
				if werr := p.Wait(); err == nil {
					err = werr
				}
				return err
			}
			if err := one(); err != nil { // starts the fork server
				b.Fatal(err)
			}
			fs := forkServerPID(b, s)
			ns0 := machine.Read().NetNSKernel
			hub0, fs0, kw0 := selfCPU(), procCPU(fs), kworkerCPU()
			t0 := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for range n {
				wg.Add(1)
				go func() { defer wg.Done(); errs <- one() }()
			}
			wg.Wait()
			wall := time.Since(t0)
			hub1, fs1, kw1 := selfCPU(), procCPU(fs), kworkerCPU()
			close(errs)
			for err := range errs {
				if err != nil {
					b.Fatalf("%s: %v", name, err)
				}
			}
			t1 := time.Now()
			for machine.Read().NetNSKernel > ns0 && time.Since(t1) < 10*time.Second {
				time.Sleep(10 * time.Millisecond)
			}
			drain := time.Since(t1)
			_ = s.Close()
			per := func(d time.Duration) float64 { return ms(d) / float64(n) }
			b.ReportMetric(float64(n)/wall.Seconds(), name+"-spokes/s")
			b.ReportMetric(per(hub1-hub0), name+"-hub-cpu-ms/spoke")
			b.ReportMetric(per(fs1-fs0), name+"-forkserver+spoke-cpu-ms/spoke")
			b.ReportMetric(per(kw1-kw0), name+"-kworker-cpu-ms/spoke")
			b.ReportMetric(drain.Seconds(), name+"-netns-drain-s")
		}
	}
	b.Logf("machine after:  %s", machine.Read())
}

// selfCPU is this process's own CPU time.
func selfCPU() time.Duration {
	var r syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// procCPU is pid's CPU time with its reaped children's (utime, stime,
// cutime, cstime of /proc/PID/stat).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	return statTicks(string(b), 13, 17)
}

// kworkerCPU sums the CPU time of every kernel worker thread.
func kworkerCPU() time.Duration {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var sum time.Duration
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/stat")
		if err != nil || !strings.Contains(string(b), "(kworker/") {
			continue
		}
		sum += statTicks(string(b), 13, 15)
	}
	return sum
}

// statTicks sums fields [from, to) (0-based, counting the pid as 0) of a
// /proc/PID/stat line, in clock ticks of 10 ms.
func statTicks(stat string, from, to int) time.Duration {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 2 (state)
	var t int64
	for k := from; k < to && k-2 < len(f); k++ {
		v, _ := strconv.ParseInt(f[k-2], 10, 64)
		t += v
	}
	return time.Duration(t) * 10 * time.Millisecond
}
