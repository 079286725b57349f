package machine

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestField(t *testing.T) {
	const cgroups = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t3\t1\t1\nmemory\t4\t86\t1\n"
	const slab = "slabinfo - version: 2.1\nnet_namespace         29     56   4288    7    8 : tunables    0    0    0\n"
	tests := []struct {
		name, table, key string
		col, want        int
	}{
		{"memory cgroups", cgroups, "memory", 2, 86},
		{"net_namespace active objects", slab, "net_namespace", 1, 29},
		{"absent row", cgroups, "pids", 2, -1},
		{"short row", "memory 4\n", "memory", 2, -1},
		{"not a number", "memory 4 x 1\n", "memory", 2, -1},
		{"prefix is not the name", "memoryx 4 9 1\n", "memory", 2, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := field(tc.table, tc.key, tc.col); got != tc.want {
				t.Errorf("field(%q, %d) = %d, want %d", tc.key, tc.col, got, tc.want)
			}
		})
	}
}

func TestSteal(t *testing.T) {
	tests := []struct {
		name, stat string
		want       float64
	}{
		{"steal counted, guest not", "cpu  100 0 100 600 0 0 0 200 50 0\ncpu0 1 2 3\n", 20},
		{"no steal", "cpu  1 1 1 1 0 0 0 0 0 0\n", 0},
		{"too few fields", "cpu  1 2 3\n", -1},
		{"not the cpu line", "intr 1 2 3 4 5 6 7 8 9\n", -1},
		{"not a number", "cpu  1 2 3 4 5 6 7 x\n", -1},
		{"all zero", "cpu  0 0 0 0 0 0 0 0\n", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := steal(tc.stat); got != tc.want {
				t.Errorf("steal = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	s := State{Load: "1.00 2.00 3.00", CPUs: 2, Uptime: 90 * time.Second, NetNS: 4, NetNSKernel: 30, MemCgroups: -1, NetnsWorkers: 0, Steal: 1.25}
	want := "load average 1.00 2.00 3.00, nproc 2, uptime 1m30s, steal since boot 1.2%, network namespaces 4 (kernel 30, netns workers busy 0), memory cgroups ?"
	if got := s.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if runtime.GOOS != "linux" {
		return
	}
	if r := Read().String(); !strings.Contains(r, "network namespaces") || strings.Contains(r, "uptime ?") {
		t.Errorf("Read() on Linux = %q", r)
	}
}
