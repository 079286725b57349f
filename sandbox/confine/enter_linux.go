package confine

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/landlock-lsm/go-landlock/landlock"
	"golang.org/x/sys/unix"

	"github.com/secgpt-go/secgpt/sandbox/launch"
)

// prepared is the spoke's policy-independent confinement, done before the
// launch frame arrives (in a pooled spoke, long before).
type prepared struct {
	filter, execFilter filterProgram
	err                error
	// fds came with the launch frame, one per idmapped mount.
	fds []int
}

// prepare makes the read-only mount view (/tmp comes with the policy) and
// assembles both seccomp filters.
func prepare() *prepared {
	p := &prepared{}
	if err := mountView(); err != nil {
		p.err = fmt.Errorf("sandbox: mount view: %w", err)
		return p
	}
	if p.filter, p.err = assembleFilter(false); p.err != nil {
		return p
	}
	p.execFilter, p.err = assembleFilter(true)
	return p
}

// confineSelf applies, in this order, everything the spoke process does to
// itself once it knows its policy: the private /tmp (needs the namespace's
// capabilities), rlimits and the Go memory limit, dropping capabilities,
// Landlock, and seccomp last (the filter forbids the calls the earlier
// steps make). It returns what it applied, for the doctor.
func confineSelf(l launch.Frame, prep *prepared) ([]launch.Check, error) {
	var rep []launch.Check
	if prep.err != nil {
		return rep, prep.err
	}
	lim := l.Policy.Limits
	if err := mountTmp(l.Policy); err != nil {
		return rep, fmt.Errorf("sandbox: mount private /tmp: %w", err)
	}
	if err := applyMounts(l.Mounts, prep.fds); err != nil {
		return rep, fmt.Errorf("sandbox: mounts: %w", err)
	}
	rep = append(rep, launch.Check{Name: "mount view", Active: true,
		Detail: fmt.Sprintf("/ read-only, private tmpfs /tmp (%d MiB), own /proc, /sys hidden", lim.Tmp>>20)})

	if err := setRlimits(l); err != nil {
		return rep, fmt.Errorf("sandbox: %w", err)
	}
	detail := fmt.Sprintf("cpu %s, fsize %d MiB, nofile %d, nproc %d, core 0", lim.CPU, lim.FileSize>>20, lim.OpenFiles, l.Nproc)
	if l.RlimitData > 0 {
		detail += fmt.Sprintf(", data %d MiB", l.RlimitData>>20)
	}
	rep = append(rep, launch.Check{Name: "rlimits", Active: true, Detail: detail})
	// Make the GC work hard before the cgroup or rlimit bound is reached.
	debug.SetMemoryLimit(lim.Memory / 10 * 9)

	if err := clearCapabilities(); err != nil {
		return rep, fmt.Errorf("sandbox: drop privileges: %w", err)
	}
	rep = append(rep, launch.Check{Name: "privileges", Active: true, Detail: "uid 0 in the spoke's user namespace, no capabilities"})

	abi, err := restrictLandlock(l.Policy, l.Mounts)
	if err != nil {
		return rep, fmt.Errorf("sandbox: landlock: %w", err)
	}
	if abi > 0 {
		rep = append(rep, launch.Check{Name: "landlock", Active: true, Detail: fmt.Sprintf("ABI %d: read-only certs/zoneinfo, read-write /tmp, no TCP bind/connect, scoped signals and abstract sockets", abi)})
	} else {
		rep = append(rep, launch.Check{Name: "landlock", Detail: "not supported by this kernel"})
	}

	fp := prep.filter
	if l.Policy.AllowExec {
		fp = prep.execFilter
	}
	if err := fp.load(); err != nil {
		return rep, fmt.Errorf("sandbox: %w", err)
	}
	rep = append(rep, launch.Check{Name: "seccomp", Active: true, Detail: fmt.Sprintf("deny by default, %d syscalls listed, TSYNC, no_new_privs", fp.names)})
	return rep, nil
}

// mountView makes the spoke's file system view: everything read-only and
// nosuid, the spoke's own read-only procfs (no host process, the hub's
// environ included, is in it) and an empty tmpfs over /sys (no cgroup or
// kernel knob).
func mountView() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID}
	if err := unix.MountSetattr(unix.AT_FDCWD, "/", unix.AT_RECURSIVE, attr); err != nil {
		return fmt.Errorf("remount / read-only: %w", err)
	}
	const hidden = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	// A procfs of the spoke's own PID namespace. go-landlock needs
	// /proc/self/task on kernels without Landlock TSYNC, so /proc cannot
	// simply be covered.
	if err := unix.Mount("proc", "/proc", "proc", hidden, ""); err != nil {
		return fmt.Errorf("mount own /proc: %w", err)
	}
	if err := unix.Mount("tmpfs", "/sys", "tmpfs", hidden, "size=4k,mode=555"); err != nil {
		return fmt.Errorf("hide /sys: %w", err)
	}
	return nil
}

// mountTmp mounts the private, size-bounded /tmp; it goes with the mount
// namespace when the spoke ends.
func mountTmp(p launch.Policy) error {
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV)
	if !p.AllowExec {
		flags |= unix.MS_NOEXEC
	}
	return unix.Mount("tmpfs", "/tmp", "tmpfs", flags, fmt.Sprintf("size=%d,mode=1777", p.Limits.Tmp))
}

// setRlimits sets every bound with soft = hard: Go raises soft limits to the
// hard ones at start and ignores SIGXCPU, so only equal limits bind.
func setRlimits(l launch.Frame) error {
	lim := l.Policy.Limits
	cpu := uint64((lim.CPU + time.Second - 1) / time.Second)
	set := []struct {
		name string
		res  int
		v    uint64
	}{
		{"cpu", unix.RLIMIT_CPU, cpu},
		{"fsize", unix.RLIMIT_FSIZE, uint64(lim.FileSize)},
		{"nofile", unix.RLIMIT_NOFILE, lim.OpenFiles},
		{"nproc", unix.RLIMIT_NPROC, l.Nproc},
		{"core", unix.RLIMIT_CORE, 0},
	}
	if l.RlimitData > 0 {
		set = append(set, struct {
			name string
			res  int
			v    uint64
		}{"data", unix.RLIMIT_DATA, uint64(l.RlimitData)})
	}
	for _, r := range set {
		if err := unix.Setrlimit(r.res, &unix.Rlimit{Cur: r.v, Max: r.v}); err != nil {
			return fmt.Errorf("set rlimit %s=%d: %w", r.name, r.v, err)
		}
	}
	return nil
}

// restrictLandlock confines paths, TCP and IPC scopes, and returns the ABI
// applied (0 when the kernel has no Landlock).
func restrictLandlock(p launch.Policy, ms []launch.FrameMount) (int, error) {
	abi, err := LandlockABI()
	if err != nil || abi == 0 {
		return 0, nil //nolint:nilerr // no Landlock: the doctor reports it
	}
	rules := []landlock.Rule{
		landlock.RODirs("/etc/ssl", "/etc/pki", "/usr/share/ca-certificates", "/usr/share/zoneinfo").IgnoreIfMissing(),
		landlock.ROFiles("/etc/localtime", "/dev/urandom", "/dev/zero").IgnoreIfMissing(),
		landlock.RWFiles("/dev/null").IgnoreIfMissing(),
		landlock.RWDirs("/tmp"),
	}
	if p.AllowExec {
		rules = append(rules, interpreterRules()...)
	}
	for _, m := range ms {
		switch {
		case m.Dir && m.Write:
			rules = append(rules, landlock.RWDirs(m.Target))
		case m.Dir:
			rules = append(rules, landlock.RODirs(m.Target))
		case m.Write:
			rules = append(rules, landlock.RWFiles(m.Target))
		default:
			rules = append(rules, landlock.ROFiles(m.Target))
		}
	}
	if err := landlock.V11.BestEffort().Restrict(rules...); err != nil {
		return 0, err
	}
	return abi, nil
}

// interpreterPaths is what a program an external app runs (a Node or Python
// MCP server, a shell script) may read and execute beyond the defaults:
// the system's programs, libraries and interpreter runtimes, and the few
// files under /etc that the dynamic loader, libc and OpenSSL read at start.
// Not /etc as a whole, not any home directory: the server's own files come
// as Policy.Mounts, its home and temp directory are the private /tmp.
var interpreterPaths = struct{ dirs, files []string }{
	dirs: []string{
		"/usr",          // node, python3, their standard libraries, /usr/lib/node_modules
		"/bin", "/sbin", // merged-/usr symlinks on Debian
		"/lib", "/lib64", // the dynamic loader and libc (symlinks into /usr on merged systems)
		"/etc/alternatives", // Debian's program-name indirection (/usr/bin/nodejs -> ...)
	},
	files: []string{
		"/etc/ld.so.cache", "/etc/ld.so.conf", // the dynamic loader's search cache
		"/etc/nsswitch.conf", "/etc/host.conf", // libc at start (getpwuid for os.homedir falls back to HOME)
		"/etc/passwd", "/etc/group", // libc user lookups (no hashes: those are in /etc/shadow)
		"/etc/os-release", "/etc/mime.types",
	},
}

// interpreterRules are the Landlock rules of interpreterPaths.
func interpreterRules() []landlock.Rule {
	return []landlock.Rule{
		landlock.RODirs(interpreterPaths.dirs...).IgnoreIfMissing(),
		landlock.ROFiles(interpreterPaths.files...).IgnoreIfMissing(),
	}
}

// LandlockABI asks the kernel which Landlock ABI it supports (0: none).
// The hub's host probe (sandbox.Doctor) asks it too.
func LandlockABI() (int, error) {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, 1 /* LANDLOCK_CREATE_RULESET_VERSION */)
	if errno != 0 {
		if errors.Is(errno, unix.ENOSYS) || errors.Is(errno, unix.EOPNOTSUPP) {
			return 0, nil
		}
		return 0, errno
	}
	return int(v), nil
}

// selfCheck verifies, after confinement, that the filter and Landlock bite.
func selfCheck() []launch.Check {
	var out []launch.Check
	// On several OS threads at once, most of which existed before the
	// filter: TSYNC must have reached them all.
	const threads = 8
	errs := make(chan error, threads)
	for range threads {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
			if err == nil {
				unix.Close(fd)
			}
			errs <- err
		}()
	}
	var err error
	ok := true
	for range threads {
		err = <-errs
		ok = ok && errors.Is(err, unix.EPERM)
	}
	out = append(out, launch.Check{Name: "verify seccomp", Active: ok, Detail: fmt.Sprintf("socket(AF_INET) on %d threads: %v", threads, err)})
	f, err := os.Open("/etc/passwd")
	if err == nil {
		f.Close()
	}
	out = append(out, launch.Check{Name: "verify landlock", Active: errors.Is(err, unix.EACCES), Detail: fmt.Sprintf("open /etc/passwd: %v", errOrOK(err))})
	return out
}

func errOrOK(err error) string {
	if err == nil {
		return "allowed"
	}
	return err.Error()
}
