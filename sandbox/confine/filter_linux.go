package confine

import (
	"fmt"
	"sort"

	"golang.org/x/net/bpf"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"
)

// filterDebugTrap turns the filter's kill actions into SIGSYS traps, so a
// spoke killed by the filter dies with a Go stack trace naming the system
// call. Only for deriving the allow-list; never commit it set.
const filterDebugTrap = false

// filterLogDenials makes the kernel log every system call the filter
// refuses with EPERM (SECCOMP_FILTER_FLAG_LOG; kills are always logged) to
// the kernel log, where the allow-list was measured from. Not for use in
// production: a hostile spoke could flood the log.
const filterLogDenials = false

// allowed is the spoke's allow-list, one group per need. It was derived by
// measurement (docs/sandbox.md, "Deriving the allow-list"): the spokes of
// this package's tests were run under strace -f in all three build modes
// (cgo, CGO_ENABLED=0, -race), every system call made after the filter was
// loaded was listed, and the filter was run with SECCOMP_FILTER_FLAG_LOG to
// confirm that no benign action is refused. Calls marked "kept" were not
// seen in the measurement but sit on a path the Go runtime or a spoke takes
// (named in the group); everything else fails with EPERM, and the calls in
// killed kill the whole spoke.
var allowed = []struct {
	why   string
	names []string
}{
	{"Go runtime and glibc malloc (cgo, race): memory; kept: brk, mremap for glibc", []string{
		"brk", "madvise", "mmap", "mprotect", "mremap", "munmap",
	}},
	{"Go runtime: scheduler, timers, thread parking; kept: the vDSO fallbacks clock_gettime, gettimeofday", []string{
		"clock_gettime", "clock_nanosleep", "futex", "gettimeofday", "nanosleep", "sched_getaffinity", "sched_yield",
	}},
	{"Go runtime: signals (preemption, thread wake-ups, crash reports); kept: rt_sigaction for os/signal", []string{
		"getpid", "gettid", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "tgkill",
	}},
	{"new threads (glibc in cgo and race builds registers each one); clone itself is restricted below", []string{
		"rseq", "set_robust_list",
	}},
	{"exit; kept: exit, for a thread that ends (LockOSThread without unlock)", []string{"exit", "exit_group"}},
	{"netpoller: non-blocking I/O on the ISC and egress sockets", []string{
		"epoll_create1", "epoll_ctl", "epoll_pwait", "eventfd2", "pipe2",
	}},
	{"descriptor I/O: ISC frames, egress connections, files in the private /tmp", []string{
		"close", "fcntl", "fdatasync", "fstat", "fsync", "ftruncate", "lseek", "pread64", "pwrite64", "read",
		"readv", "write", "writev",
	}},
	{"paths, reachable only where Landlock and the read-only mount view allow (the *at forms Go uses)", []string{
		"faccessat", "faccessat2", "fchmodat", "getcwd", "getdents64", "mkdirat", "newfstatat", "openat",
		"readlinkat", "renameat", "renameat2", "unlinkat",
	}},
	{"egress client: a socketpair per connection (checked below), one end passed to the hub", []string{
		"getpeername", "getsockname", "getsockopt", "recvmsg", "sendmsg", "shutdown",
	}},
	{"kept: randomness for TLS (crypto/rand) and harmless identity queries", []string{
		"getegid", "geteuid", "getgid", "getppid", "getrandom", "getuid",
	}},
}

// killed are system calls no spoke has a reason to make: each is an attempt
// on another process, the kernel, or the sandbox itself, so the spoke dies.
var killed = []string{
	"acct", "add_key", "bpf", "chroot", "delete_module", "finit_module", "fsconfig", "fsmount", "fsopen",
	"fspick", "init_module", "io_uring_enter", "io_uring_register", "io_uring_setup", "iopl", "ioperm",
	"kcmp", "kexec_file_load", "kexec_load", "keyctl", "mount", "mount_setattr", "move_mount",
	"name_to_handle_at", "open_by_handle_at", "open_tree", "perf_event_open", "pidfd_getfd", "pivot_root",
	"process_madvise", "process_vm_readv", "process_vm_writev", "ptrace", "quotactl", "reboot", "request_key",
	"setns", "swapoff", "swapon", "umount2", "unshare", "userfaultfd",
}

// execNames are allowed only to apps that are external processes by design
// (Policy.AllowExec): running a program and waiting for it (measured: the
// os/exec path), plus what a typical interpreter needs at start (not
// measured here: no external app ships with this repository yet).
var execNames = []string{
	"access", "arch_prctl", "chdir", "close_range", "dup", "dup2", "dup3", "execve", "execveat", "fork",
	"getpgid", "getpgrp", "getrlimit", "ioctl", "kill", "lstat", "open", "pidfd_open", "pidfd_send_signal", "poll",
	"ppoll", "prctl", "prlimit64", "readlink", "set_tid_address", "setpgid", "setsid", "stat", "statx",
	"sysinfo", "uname", "vfork", "wait4", "waitid",
	// The older path calls interpreters still make (libuv's fs.rename and
	// fs.unlink, CPython's os.mkdir): measured under strace with the real
	// MCP servers of apps/mcp's tests, which got EPERM for rename and
	// unlink. Landlock and the read-only mount view bound them like their
	// *at forms.
	"chmod", "creat", "fchmod", "link", "mkdir", "rename", "rmdir", "symlink", "unlink", "utimensat",
	// Reading the process's own capabilities (Node at start; measured).
	"capget",
}

// namespaceFlags are the clone flags that would make a new namespace.
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP | unix.CLONE_NEWTIME

// buildFilter returns the seccomp policy for a spoke.
func buildFilter(allowExec bool) (seccomp.Policy, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return seccomp.Policy{}, fmt.Errorf("seccomp arch: %w", err)
	}
	known := func(names []string) []string {
		out := make([]string, 0, len(names))
		for _, n := range names {
			if _, ok := info.SyscallNames[n]; ok {
				out = append(out, n)
			}
		}
		sort.Strings(out)
		return out
	}
	kill := seccomp.ActionKillProcess
	if filterDebugTrap {
		kill = seccomp.ActionTrap
	}
	var allow []string
	for _, g := range allowed {
		allow = append(allow, g.names...)
	}
	groups := []seccomp.SyscallGroup{
		{Action: kill, Names: known(killed)},
		// glibc (cgo and race builds) tries clone3 first: its flags sit in
		// memory seccomp cannot read, so answer ENOSYS and glibc falls back
		// to clone, whose flags the next group checks.
		{Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS), Names: known([]string{"clone3"})},
		{Action: seccomp.ActionAllow, Names: known(allow)},
		{Action: seccomp.ActionAllow, NamesWithCondtions: []seccomp.NameWithConditions{
			// Socketpairs for egress connections; no other socket family.
			{Name: "socketpair", Conditions: seccomp.ArgumentConditions{
				{Argument: 0 /* domain */, Operation: seccomp.Equal, Value: unix.AF_UNIX},
			}},
		}},
	}
	// One clone rule only: the assembled program answers a call with the
	// first rule naming it, so a failed thread-only check would refuse the
	// exec apps' fork before their looser rule is reached (measured: the
	// os/exec path got EPERM while both rules were listed).
	if allowExec {
		groups = append(groups, execFilters(info)...)
	} else {
		groups = append(groups, seccomp.SyscallGroup{Action: seccomp.ActionAllow, NamesWithCondtions: []seccomp.NameWithConditions{
			// A thread of this process, never a new process or namespace.
			{Name: "clone", Conditions: seccomp.ArgumentConditions{
				{Argument: 0 /* flags */, Operation: seccomp.BitsSet, Value: unix.CLONE_THREAD},
				{Argument: 0 /* flags */, Operation: seccomp.BitsNotSet, Value: namespaceFlags},
			}},
		}})
	}
	return seccomp.Policy{DefaultAction: seccomp.ActionErrno, Syscalls: groups}, nil
}

// execFilters loosens the filter for apps that run an external program:
// exec, plain fork-style clone (os/exec uses CLONE_VFORK|CLONE_VM) and
// waiting for the child. Less restrictive: the program runs under the same
// filter, Landlock domain and namespaces, but may do anything listed here.
func execFilters(info *arch.Info) []seccomp.SyscallGroup {
	var names []string
	for _, n := range execNames {
		if _, ok := info.SyscallNames[n]; ok {
			names = append(names, n)
		}
	}
	return []seccomp.SyscallGroup{
		{Action: seccomp.ActionAllow, Names: names},
		{Action: seccomp.ActionAllow, NamesWithCondtions: []seccomp.NameWithConditions{
			{Name: "clone", Conditions: seccomp.ArgumentConditions{
				{Argument: 0 /* flags */, Operation: seccomp.BitsNotSet, Value: namespaceFlags},
			}},
		}},
	}
}

// filterProgram is an assembled filter, ready to load.
type filterProgram struct {
	prog  []unix.SockFilter
	names int // system calls the policy lists
}

// assembleFilter builds and assembles the spoke's filter. It is done before
// the spoke waits for its policy, so loading it costs one system call.
func assembleFilter(allowExec bool) (filterProgram, error) {
	pol, err := buildFilter(allowExec)
	if err != nil {
		return filterProgram{}, err
	}
	insts, err := pol.Assemble()
	if err != nil {
		return filterProgram{}, fmt.Errorf("assemble seccomp policy: %w", err)
	}
	raw, err := bpf.Assemble(insts)
	if err != nil {
		return filterProgram{}, fmt.Errorf("assemble seccomp BPF: %w", err)
	}
	fp := filterProgram{prog: make([]unix.SockFilter, len(raw))}
	for i, r := range raw {
		fp.prog[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	for _, g := range pol.Syscalls {
		fp.names += len(g.Names) + len(g.NamesWithCondtions)
	}
	return fp, nil
}

// load installs the filter on every thread (TSYNC), with no_new_privs.
func (fp filterProgram) load() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	flags := uintptr(unix.SECCOMP_FILTER_FLAG_TSYNC)
	if filterLogDenials {
		flags |= unix.SECCOMP_FILTER_FLAG_LOG
	}
	if err := seccompSetFilter(flags, fp.prog); err != nil {
		return fmt.Errorf("load seccomp filter: %w", err)
	}
	return nil
}
