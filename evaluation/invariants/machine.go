package invariants

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machineState describes the machine a run shares, for the record of a
// long run (docs/invariants.md): load average, CPUs this process may use,
// uptime, and how many network namespaces exist (each sandboxed spoke has
// its own, so a count that grows over a run means namespaces left behind).
// What cannot be read is reported as "?".
func machineState() string {
	load := "?"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = strings.Join(f[:3], " ")
		}
	}
	up := "?"
	if b, err := os.ReadFile("/proc/uptime"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 1 {
			if s, err := strconv.ParseFloat(f[0], 64); err == nil {
				up = (time.Duration(s) * time.Second).String()
			}
		}
	}
	netns := "?"
	if n, ok := netNamespaces(); ok {
		netns = strconv.Itoa(n)
	}
	return fmt.Sprintf("load average %s, nproc %d, uptime %s, network namespaces %s", load, runtime.NumCPU(), up, netns)
}

// netNamespaces counts the distinct network namespaces of the processes
// this process can see.
func netNamespaces() (int, bool) {
	links, err := filepath.Glob("/proc/[0-9]*/ns/net")
	if err != nil || len(links) == 0 {
		return 0, false
	}
	seen := map[string]bool{}
	for _, l := range links {
		if t, err := os.Readlink(l); err == nil {
			seen[t] = true
		}
	}
	return len(seen), len(seen) > 0
}
