//go:build linux

package confine

import (
	"slices"
	"testing"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
)

// TestFilterInvariants holds, for every filter variant, the rules the
// allow-list must never break, whatever is added to it later.
func TestFilterInvariants(t *testing.T) {
	info, err := arch.GetInfo("")
	if err != nil {
		t.Fatal(err)
	}
	mustDeny := []string{"execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev", "mount", "bpf",
		"keyctl", "perf_event_open", "init_module", "finit_module", "kexec_load", "unshare", "setns", "socket",
		"fork", "vfork", "io_uring_setup", "pidfd_getfd", "userfaultfd"}
	mustKill := []string{"ptrace", "process_vm_readv", "process_vm_writev", "mount", "bpf", "keyctl",
		"perf_event_open", "init_module", "kexec_load", "unshare", "setns"}
	for _, allowExec := range []bool{false, true} {
		pol, err := buildFilter(allowExec)
		if err != nil {
			t.Fatal(err)
		}
		if pol.DefaultAction != seccomp.ActionErrno {
			t.Errorf("allowExec=%v: default action %v, want errno (deny)", allowExec, pol.DefaultAction)
		}
		if _, err := pol.Assemble(); err != nil {
			t.Fatalf("allowExec=%v: assemble: %v", allowExec, err)
		}
		// The first group that names a call decides it.
		decide := map[string]seccomp.Action{}
		conditional := map[string]bool{}
		for _, g := range pol.Syscalls {
			for _, n := range g.Names {
				if _, seen := decide[n]; !seen {
					decide[n] = g.Action
				}
			}
			for _, n := range g.NamesWithCondtions {
				conditional[n.Name] = true
			}
		}
		for _, n := range mustDeny {
			if allowExec && slices.Contains(execNames, n) {
				continue
			}
			if decide[n] == seccomp.ActionAllow {
				t.Errorf("allowExec=%v: %s is allowed", allowExec, n)
			}
			if conditional[n] {
				t.Errorf("allowExec=%v: %s is allowed under conditions", allowExec, n)
			}
		}
		for _, n := range mustKill {
			if decide[n] != seccomp.ActionKillProcess && !filterDebugTrap {
				t.Errorf("allowExec=%v: %s does not kill the spoke", allowExec, n)
			}
		}
		if _, ok := decide["clone"]; ok {
			t.Errorf("allowExec=%v: clone allowed without a flags condition", allowExec)
		}
	}
	for _, g := range allowed {
		for _, n := range g.names {
			if _, ok := info.SyscallNames[n]; !ok && info.Name == "x86_64" {
				t.Errorf("allow-list names %q, unknown on %s", n, info.Name)
			}
			if slices.Contains(killed, n) {
				t.Errorf("%q is both allowed and killed", n)
			}
		}
	}
	if filterDebugTrap || filterLogDenials {
		t.Error("a filter debug switch is on")
	}
}
