//go:build linux

package sandbox

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

func TestDoctor(t *testing.T) {
	newSpawner(t, Config{}) // fails under CI, skips elsewhere, when the host cannot confine
	r := Doctor(context.Background(), Config{Stderr: io.Discard})
	if !r.Confined || r.Error != "" {
		t.Fatalf("doctor says not confined: %s", r)
	}
	want := map[string]bool{"verify seccomp": false, "verify landlock": false, "seccomp": false, "landlock": false,
		"net namespace": false, "pid namespace": false, "mnt namespace": false, "user namespace": false,
		"ipc namespace": false, "uts namespace": false, "mount view": false, "rlimits": false, "egress proxy": false}
	for _, c := range r.Spoke {
		if _, ok := want[c.Name]; ok {
			if !c.Active {
				t.Errorf("probe spoke: %s inactive: %s", c.Name, c.Detail)
			}
			want[c.Name] = true
		}
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("probe spoke did not report %q", name)
		}
	}
	s := r.String()
	if !strings.Contains(s, "spokes are confined") || !strings.Contains(s, "inside a probe spoke") {
		t.Errorf("text report:\n%s", s)
	}
	var back Report
	if err := json.Unmarshal(r.JSON(), &back); err != nil || !back.Confined || len(back.Spoke) != len(r.Spoke) {
		t.Errorf("JSON report does not round-trip: %v", err)
	}
}

func TestDoctorOff(t *testing.T) {
	r := Doctor(context.Background(), Config{Off: true})
	if r.Confined || !r.Off || len(r.Spoke) != 0 {
		t.Fatalf("off: %+v", r)
	}
	if !strings.Contains(r.String(), "SANDBOX OFF") {
		t.Errorf("off report does not say so:\n%s", r)
	}
	if len(r.Checks) == 0 {
		t.Error("off report lists no host checks")
	}
}

func TestNewRefusesWithoutKernelSupport(t *testing.T) {
	tests := []struct {
		name string
		h    hostSupport
		ok   bool
	}{
		{"all there", hostSupport{seccomp: true}, true},
		{"no seccomp", hostSupport{}, false},
		{"no net namespace", hostSupport{seccomp: true, namespaces: []string{"net"}}, false},
		{"user namespaces disabled", hostSupport{seccomp: true, userns: "user.max_user_namespaces is 0"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.h.usable()
			if (err == nil) != tc.ok {
				t.Fatalf("usable() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestDoctorSaysWhoseRightsMountsHave: the doctor names how declared files
// and the paths in an MCP server's args are mounted (issue 19, item 6).
func TestDoctorSaysWhoseRightsMountsHave(t *testing.T) {
	tests := []struct {
		name string
		root bool
		want string
	}{
		{"root hub", true, "keep their real owners and modes"},
		{"unprivileged hub", false, "shares the hub's uid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Check
			for _, hc := range (hostSupport{seccomp: true, root: tc.root}).checks() {
				if hc.Name == "file mounts" {
					c = hc
				}
			}
			if !c.Active || !strings.Contains(c.Detail, tc.want) {
				t.Errorf("file mounts check %+v, want %q", c, tc.want)
			}
		})
	}
}
