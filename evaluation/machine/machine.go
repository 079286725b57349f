// Package machine describes the state of the machine a measurement ran in,
// so that a figure is never recorded without it: load, CPUs, uptime, and
// the kernel objects sandboxed spokes leave behind (network namespaces,
// memory cgroups) with the kernel's work of tearing them down. The
// invariant harness (evaluation/invariants) and the scale benchmarks
// (core/hub, sandbox) import it; nothing at run time does.
package machine

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// State is one reading. A count that could not be read is -1.
type State struct {
	// Load is /proc/loadavg's 1, 5 and 15 minute figures.
	Load string
	// CPUs is how many CPUs this process may use.
	CPUs int
	// Uptime is how long the kernel has run; 0 if unknown.
	Uptime time.Duration
	// NetNS counts the distinct network namespaces of the processes this
	// process can see (each sandboxed spoke with egress has its own).
	NetNS int
	// NetNSKernel counts the network namespaces the kernel still holds
	// (the net_namespace slab's active objects, root only): more than NetNS
	// means namespaces whose processes ended are still being torn down.
	NetNSKernel int
	// MemCgroups counts the memory controller's cgroups (/proc/cgroups);
	// each spoke has one while it runs.
	MemCgroups int
	// NetnsWorkers counts the kernel workers busy on the netns workqueue
	// (cleanup_net) at the moment of reading.
	NetnsWorkers int
	// Steal is the share of CPU time since boot that the hypervisor gave
	// to others (/proc/stat); -1 if unknown. On a VM a fork's TLB
	// shootdown waits for every vCPU to answer, so steal slows spawns.
	Steal float64
}

// Read reads the state now.
func Read() State {
	s := State{Load: "?", CPUs: runtime.NumCPU(), NetNS: -1, NetNSKernel: -1, MemCgroups: -1, NetnsWorkers: -1, Steal: -1}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			s.Load = strings.Join(f[:3], " ")
		}
	}
	if b, err := os.ReadFile("/proc/uptime"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 1 {
			if v, err := strconv.ParseFloat(f[0], 64); err == nil {
				s.Uptime = time.Duration(v) * time.Second
			}
		}
	}
	s.NetNS, s.NetnsWorkers = scanProcs()
	if b, err := os.ReadFile("/proc/slabinfo"); err == nil {
		s.NetNSKernel = field(string(b), "net_namespace", 1)
	}
	if b, err := os.ReadFile("/proc/cgroups"); err == nil {
		s.MemCgroups = field(string(b), "memory", 2)
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		s.Steal = steal(string(b))
	}
	return s
}

// steal is the steal share of the "cpu" line of /proc/stat (user nice
// system idle iowait irq softirq steal ...), or -1.
func steal(stat string) float64 {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return -1
	}
	var total, st float64
	for i, v := range f[1:] {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return -1
		}
		if i < 8 { // guest time is already counted in user and nice
			total += n
		}
		if i == 7 {
			st = n
		}
	}
	if total == 0 {
		return -1
	}
	return 100 * st / total
}

// String is the state on one line, "?" for what could not be read.
func (s State) String() string {
	n := func(v int) string {
		if v < 0 {
			return "?"
		}
		return strconv.Itoa(v)
	}
	up := "?"
	if s.Uptime > 0 {
		up = s.Uptime.String()
	}
	st := "?"
	if s.Steal >= 0 {
		st = fmt.Sprintf("%.1f%%", s.Steal)
	}
	return fmt.Sprintf("load average %s, nproc %d, uptime %s, steal since boot %s, network namespaces %s (kernel %s, netns workers busy %s), memory cgroups %s",
		s.Load, s.CPUs, up, st, n(s.NetNS), n(s.NetNSKernel), n(s.NetnsWorkers), n(s.MemCgroups))
}

// scanProcs counts the distinct network namespaces of visible processes and
// the kernel workers whose name says they are running the netns workqueue
// (a worker's comm carries the workqueue it last ran, after "+" while it
// runs it and "-" once idle: "kworker/u4:1+netns").
func scanProcs() (netns, workers int) {
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil || len(dirs) == 0 {
		return -1, -1
	}
	seen := map[string]bool{}
	for _, d := range dirs {
		if t, err := os.Readlink(d + "/ns/net"); err == nil {
			seen[t] = true
		}
		if c, err := os.ReadFile(d + "/comm"); err == nil && strings.HasPrefix(string(c), "kworker/") && strings.HasSuffix(strings.TrimSpace(string(c)), "+netns") {
			workers++
		}
	}
	if len(seen) == 0 {
		return -1, workers
	}
	return len(seen), workers
}

// field returns column col (0 is the name) of the line of table whose first
// column is name, or -1.
func field(table, name string, col int) int {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) > col && f[0] == name {
			if v, err := strconv.Atoi(f[col]); err == nil {
				return v
			}
		}
	}
	return -1
}
