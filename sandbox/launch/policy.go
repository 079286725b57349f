package launch

import (
	"net/netip"
	"time"
)

// Policy is what one spoke may do.
type Policy struct {
	// App is the app the spoke runs (for logs and the egress allow-list).
	App string `json:"app"`
	// Timeout is the hub-side wall-clock bound; the process group is killed
	// when it passes.
	Timeout time.Duration `json:"timeout"`
	// Domains are the registrable domains the app may reach through the proxy.
	Domains []string `json:"domains,omitempty"`
	// Ports are the TCP ports besides 443 the app may reach on its domains
	// (80 for plain http must be declared too).
	Ports []int `json:"ports,omitempty"`
	// PrivateNets are non-public address blocks this app's egress may
	// reach, by an address inside them or by a declared name resolving
	// into them: the operator's per-app opt-in for an internal server (an
	// MCP server on the LAN or in the cluster). Empty, the default, means
	// public addresses only. Each must pass sandbox.CheckPrivateNet.
	PrivateNets []netip.Prefix `json:"private_nets,omitempty"`
	// AllowExec lets the spoke execve (external-program apps only).
	AllowExec bool `json:"allow_exec,omitempty"`
	// Limits bound the spoke's resources.
	Limits Limits `json:"limits"`
	// Args are opaque arguments for the spoke's code (tests name a hostile
	// action here); the sandbox does not read them.
	Args []string `json:"args,omitempty"`
	// Mounts are host files and directories this spoke may use, read-only
	// unless marked Write; nothing else of the host's file tree beyond the
	// sandbox's defaults is reachable (see docs/sandbox.md, "Files").
	Mounts []Mount `json:"mounts,omitempty"`
}

// Mount makes one host file or directory available inside one spoke.
type Mount struct {
	// Source is the host path, absolute; symbolic links are resolved by
	// the hub.
	Source string `json:"source"`
	// Target is where the spoke sees it; "" means at Source.
	Target string `json:"target,omitempty"`
	// Write lets the spoke change it; otherwise it is mounted read-only.
	Write bool `json:"write,omitempty"`
	// RealOwners shows the source with its host owners and modes. A root
	// hub otherwise maps host root to the spoke's user inside the mount
	// (so an operator's root-only file is usable); with RealOwners the
	// spoke gets only what the host's other users get, which is what a
	// path an MCP server's arguments name deserves: a server given /etc
	// reads /etc/hosts, not /etc/shadow. An unprivileged hub's spokes
	// share its uid and see its files as it does either way.
	RealOwners bool `json:"real_owners,omitempty"`
}

// Limits are the resource bounds of a spoke.
type Limits struct {
	// CPU is the CPU-time limit (RLIMIT_CPU soft = hard).
	CPU time.Duration `json:"cpu"`
	// Memory bounds the spoke's memory in bytes (cgroup memory limit where
	// the host allows, otherwise RLIMIT_DATA; see docs/sandbox.md).
	Memory int64 `json:"memory"`
	// FileSize bounds any file the spoke writes (RLIMIT_FSIZE).
	FileSize int64 `json:"file_size"`
	// OpenFiles bounds open descriptors (RLIMIT_NOFILE soft = hard).
	OpenFiles uint64 `json:"open_files"`
	// Procs bounds processes and threads (cgroup pids.max and RLIMIT_NPROC).
	Procs uint64 `json:"procs"`
	// Tmp bounds the size of the spoke's private writable /tmp in bytes.
	Tmp int64 `json:"tmp,omitempty"`
}

// DefaultLimits are used for zero fields of a Policy's Limits.
func DefaultLimits() Limits {
	return Limits{CPU: 60 * time.Second, Memory: 512 << 20, FileSize: 16 << 20, OpenFiles: 64, Procs: 64, Tmp: 64 << 20}
}
