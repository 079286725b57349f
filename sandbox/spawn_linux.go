package sandbox

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/sys/unix"

	"github.com/secgpt-go/secgpt/sandbox/confine"
)

// nobody is the uid/gid a spoke switches to when the hub runs as root.
const nobody = 65534

// hostSupport is what this host offers, probed once by New.
type hostSupport struct {
	seccomp     bool
	namespaces  []string // missing namespace kinds
	userns      string   // why user namespaces are unusable, or ""
	landlockABI int
	root        bool
	uid, gid    int
	cg          cgroupRoot
	warnings    []string
}

// probeHost looks at the kernel's interfaces; it starts no process.
func probeHost() hostSupport {
	h := hostSupport{seccomp: seccomp.Supported(), uid: os.Getuid(), gid: os.Getgid()}
	h.root = h.uid == 0
	for _, ns := range []string{"user", "mnt", "net", "pid", "ipc", "uts", "cgroup"} {
		if _, err := os.Stat("/proc/self/ns/" + ns); err != nil {
			h.namespaces = append(h.namespaces, ns)
		}
	}
	if n, err := readInt("/proc/sys/user/max_user_namespaces"); err == nil && n == 0 {
		h.userns = "user.max_user_namespaces is 0"
	}
	if !h.root {
		if n, err := readInt("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && n == 0 {
			h.userns = "kernel.unprivileged_userns_clone is 0"
		}
	}
	h.landlockABI, _ = confine.LandlockABI()
	if h.landlockABI == 0 {
		h.warnings = append(h.warnings, "no Landlock: paths are bounded by the read-only mount view and DAC only")
	}
	h.cg = findCgroup()
	if h.cg.kind == "" {
		if raceEnabled {
			h.warnings = append(h.warnings, "no writable cgroup and a race-enabled binary: spoke memory is bounded by GOMEMLIMIT only")
		} else {
			h.warnings = append(h.warnings, "no writable cgroup: spoke memory is bounded by RLIMIT_DATA")
		}
	}
	return h
}

// usable says why spokes cannot be confined here, or nil.
func (h hostSupport) usable() error {
	var why []string
	if !h.seccomp {
		why = append(why, "seccomp is not available")
	}
	if len(h.namespaces) > 0 {
		why = append(why, "namespaces missing: "+strings.Join(h.namespaces, ", "))
	}
	if h.userns != "" {
		why = append(why, "user namespaces are disabled ("+h.userns+")")
	}
	if len(why) == 0 {
		return nil
	}
	return errors.New(strings.Join(why, "; "))
}

// confine fills in the parent-side part of the sandbox: namespaces, the
// uid/gid maps and the cgroup (with default bounds until claim sets the
// policy's). With sharedNet the spoke joins the fork server's shared empty
// network namespace instead of getting one of its own (sandbox/forkserver/sharednet_linux.go).
func (s *Spawner) confine(pr *Proc, attr *syscall.SysProcAttr, sharedNet bool) error {
	h := s.host
	attr.Cloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWNET | syscall.CLONE_NEWPID |
		syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS | syscall.CLONE_NEWCGROUP
	if sharedNet && !s.direct && !s.ownNet {
		attr.Cloneflags &^= syscall.CLONE_NEWNET
		pr.sharedNet = true
	}
	// Uid 0 inside (so Enter may mount), mapped to nobody when the hub runs
	// as root and to the hub's own uid otherwise; Enter then clears every
	// capability. The spoke's binary is /proc/self/exe, which exec reaches
	// without searching the directories on its path.
	hostUID, hostGID := h.uid, h.gid
	if h.root {
		hostUID, hostGID = nobody, nobody
	}
	attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: hostUID, Size: 1}}
	attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: hostGID, Size: 1}}
	// Become that uid 0 before exec: a root hub's own uid is not mapped.
	// A root hub may (and must) also drop its supplementary groups, or
	// the spoke would keep host group 0's file access; an unprivileged
	// hub may not call setgroups in the new namespace, and its groups are
	// its user's own.
	attr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: !h.root}
	attr.GidMappingsEnableSetgroups = h.root
	if h.cg.kind != "" {
		cg, err := s.newCgroup()
		if err != nil {
			return fmt.Errorf("cgroup: %w", err)
		}
		pr.cg, pr.putCg = cg, s.putCgroup
		if cg.fd >= 0 {
			attr.UseCgroupFD = true
			attr.CgroupFD = cg.fd
		}
	}
	return nil
}

func readInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// checks lists the host's protections for the doctor.
func (h hostSupport) checks() []Check {
	cs := []Check{{Name: "seccomp", Active: h.seccomp, Detail: "deny-by-default filter, all threads (TSYNC)"}}
	if !h.seccomp {
		cs[0].Detail = "the kernel has no seccomp filter mode"
	}
	for _, ns := range []string{"user", "mnt", "net", "pid", "ipc", "uts", "cgroup"} {
		c := Check{Name: ns + " namespace", Active: !slices.Contains(h.namespaces, ns)}
		if !c.Active {
			c.Detail = "not in this kernel"
		} else if ns == "user" && h.userns != "" {
			c.Active, c.Detail = false, h.userns
		} else if ns == "net" {
			c.Detail = "own for spokes with egress or exec; one shared empty namespace for the others (root hub; own otherwise)"
		}
		cs = append(cs, c)
	}
	ll := Check{Name: "landlock", Active: h.landlockABI > 0, Detail: fmt.Sprintf("ABI %d", h.landlockABI)}
	if h.landlockABI == 0 {
		ll.Detail = "not supported by this kernel (or disabled in the lsm= list)"
	}
	cs = append(cs, ll)
	mem := Check{Name: "memory limit", Active: true}
	pids := Check{Name: "process limit", Active: true, Detail: "RLIMIT_NPROC only"}
	switch h.cg.kind {
	case "v2":
		mem.Detail = "cgroup v2 memory.max under " + h.cg.v2
		pids.Detail = "cgroup v2 pids.max (if delegated) and RLIMIT_NPROC"
	case "v1":
		mem.Detail = "cgroup v1 memory.limit_in_bytes under " + h.cg.mem
		if h.cg.pids != "" {
			pids.Detail = "cgroup v1 pids.max under " + h.cg.pids + " and RLIMIT_NPROC"
		}
	default:
		if raceEnabled {
			mem.Active, mem.Detail = false, "no writable cgroup, and rlimits cannot bound a race-enabled binary: GOMEMLIMIT only"
		} else {
			mem.Detail = "no writable cgroup: RLIMIT_DATA = Limits.Memory, plus GOMEMLIMIT"
		}
	}
	priv := Check{Name: "privileges", Active: true, Detail: "uid 0 of the spoke's own user namespace mapped to the hub's uid, all capabilities cleared"}
	if h.root {
		priv.Detail = "uid 0 of the spoke's own user namespace mapped to nobody (65534), all capabilities cleared"
	}
	return append(cs, mem, pids,
		Check{Name: "rlimits", Active: true, Detail: "CPU (soft = hard), file size, open files, processes, core = 0; hub wall-clock timeout"},
		priv, h.fileMounts(),
		Check{Name: "egress proxy", Active: true, Detail: "hub-side HTTP(S) proxy per spoke over a unix socket; declared eTLD+1 only"},
	)
}

// fileMounts says with whose rights a spoke uses the host files its policy
// names (Mount.RealOwners).
func (h hostSupport) fileMounts() Check {
	c := Check{Name: "file mounts", Active: true}
	if h.root {
		c.Detail = "declared files (apps.files, an MCP server's files: and data) are idmapped: host root's files are the spoke's own; " +
			"paths named in an MCP server's command or args keep their real owners and modes: the spoke (nobody) gets what other users get"
	} else {
		c.Detail = "bind mounts: the spoke shares the hub's uid and gets what the hub's user gets, for declared files and the paths in an MCP server's args alike"
	}
	return c
}

// kernelRelease is uname -r.
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}
