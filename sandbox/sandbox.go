// Package sandbox is the hub's side of the spoke sandbox: it starts
// spokes, the same binary re-executed with only the ISC socket (fd 3, and
// the egress socket on fd 4 when the app declared network domains), an
// empty environment, its own process group, its own user, mount, PID, IPC,
// UTS and cgroup namespaces, a network namespace of its own (with egress
// or exec) or one empty namespace shared by the other spokes, and a cgroup
// or rlimit memory bound. It hands each spoke its policy in the launch
// frame, runs the egress proxy and the wall-clock timeout, optionally keeps
// a pool of pre-started spokes, and names why a spoke ended (ExitError).
// Doctor reports which protections a host offers. docs/sandbox.md
// describes the threat model and what each protection stops.
//
// What runs inside the spoke (Enter: mounts, rlimits, capabilities,
// Landlock and the seccomp filter) is sandbox/confine, as gVisor keeps
// runsc/boot apart from runsc/sandbox; the fork server that clones
// sandboxed spokes is sandbox/forkserver; the policy types and the launch
// frame both sides share are sandbox/launch (Policy, Mount and Limits
// here are its types).
//
// Only sandbox/hubspawn (which runs the hub's spokes through it),
// core/hubtest, cli/ wiring, cmd/secgpt (its spoke entry) and tests
// import this package; it knows
// nothing of what an app does.
package sandbox

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/secgpt-go/secgpt/sandbox/forkserver"
	"github.com/secgpt-go/secgpt/sandbox/launch"
)

// ChildEnv is the one environment variable a spoke is started with; its
// presence tells the binary to run as a spoke (tests use it from TestMain).
const ChildEnv = launch.ChildEnv

// ISCFD is the file descriptor of the ISC socket in the spoke.
const ISCFD = launch.ISCFD

// EgressFD is the file descriptor of the egress socket in a spoke whose
// policy declares network domains (see confine.EgressClient).
const EgressFD = launch.EgressFD

// Policy is what one spoke may do (defined in sandbox/launch, which both
// sides of the sandbox share).
type Policy = launch.Policy

// Mount makes one host file or directory available inside one spoke.
type Mount = launch.Mount

// Limits are the resource bounds of a spoke.
type Limits = launch.Limits

// DefaultLimits are used for zero fields of a Policy's Limits.
func DefaultLimits() Limits { return launch.DefaultLimits() }

// AuditFunc records one egress decision: app asked for host, and the proxy
// allowed it or not. It must not block for long; it runs on the proxy path.
type AuditFunc func(ctx context.Context, app, host string, allowed bool)

// Config configures a Spawner.
type Config struct {
	// Exe is the spoke binary: one whose main calls Enter first when
	// IsChild (the secgpt binary or cmd/secgpt-spoke). "" means
	// /proc/self/exe, this binary. The fork server is started from Exe
	// and execs its own /proc/self/exe, so Exe may sit in a directory
	// the spoke's user may not search (go run, go test, /root).
	Exe string
	// Args are the arguments after argv[0]; nil means {"__spoke"}.
	Args []string
	// Off runs spokes without OS-level confinement (separate processes
	// still). Only for platforms without the needed kernel features, and
	// only when the config says so explicitly.
	Off bool
	// DefaultTimeout applies when a Policy has none (180 s as in the original).
	DefaultTimeout time.Duration
	Logger         *slog.Logger
	// Audit, if set, is told of every egress request a spoke makes.
	Audit AuditFunc
	// Stderr receives the spokes' standard output and error. Nil means the
	// Logger, one record per line with control characters replaced and at
	// most 64 KiB per spoke: never the hub's terminal, where a spoke could
	// fake a permission prompt.
	Stderr io.Writer
	// EgressDial dials upstreams for the egress proxy. Nil means a dialer
	// that refuses loopback, private and link-local addresses, so a declared
	// domain cannot be pointed at the hub's own services.
	EgressDial DialFunc
	// Pool is how many spokes to keep started, sandboxed up to the point
	// where they wait for their policy, so that Start only hands one its
	// policy (BenchmarkSpawn measures the difference). 0 starts every spoke
	// when asked. Pooled processes end with Close or with the hub. Pooled
	// spokes are in the shared network namespace, so a policy with egress
	// or exec is always started on demand, in a namespace of its own.
	Pool int
	// PoolMemory is the memory, in bytes, that pooled spokes may hold
	// beyond Pool while starts are expected (Prepare: a burst of
	// conversations planning): each expected start may keep one more
	// pooled spoke, each counted as IdleSpokeMemory, until this is
	// reached. 0 keeps the pool at Pool.
	PoolMemory int64
	// IdleSpokeMemory is what one pooled spoke holds of its own while it
	// waits for its policy (its private memory: the pages of the binary
	// are shared by every spoke), in bytes: a spoke of LocalExe when that
	// is set, of Exe otherwise. It depends on the binary, so the caller
	// that picks the binaries says it; 0 means DefaultIdleSpokeMemory.
	IdleSpokeMemory int64
	// LocalExe, if set, is a smaller spoke binary (cmd/secgpt-spoke-local)
	// that runs only the apps in LocalApps, which need neither egress nor
	// programs. Their spokes, pooled ones included, run from it; every
	// other spoke runs from Exe and is started on demand. A spoke's start
	// then costs less CPU and an idle pooled spoke less memory: the
	// Google API and MCP clients' initialisers run only where they are
	// used. Like Exe, it is exec'd as its fork server's /proc/self/exe.
	LocalExe string
	// LocalApps are the apps LocalExe runs (its `describe`).
	LocalApps []string
}

// Spawner starts spokes. Its methods are safe for concurrent use.
type Spawner struct {
	cfg  Config
	log  *slog.Logger
	host hostSupport
	id   string        // random, names this Spawner's cgroups
	seq  atomic.Uint64 // numbers this Spawner's cgroups

	fills sync.WaitGroup // pooled spokes being started

	// poolMax bounds the pooled spokes kept idle (poolMax in pool.go).
	poolMax int
	// local holds the apps whose spokes run from Config.LocalExe.
	local map[string]bool

	warned warnings // "less restrictive" warnings already logged at WARN

	mu      sync.Mutex // guards the fields below
	idle    []*Proc    // pooled spokes waiting for a policy
	filling int        // pooled spokes being started
	// expected counts the starts announced by Prepare and not yet
	// released.
	expected int
	closed   bool
	// forks are the fork servers sandboxed spokes are cloned by (Linux),
	// one per binary (Config.Exe, Config.LocalExe).
	forks map[string]*forkserver.Client
	// direct makes the hub clone sandboxed spokes itself, as before the
	// fork server (BenchmarkSpawnHubHeap compares the two). It also gives
	// every spoke a network namespace of its own.
	direct bool
	// ownNet gives every spoke a network namespace of its own, as before
	// the shared one (BenchmarkBurst compares the two).
	ownNet bool
	// freshCgroups makes a cgroup for every spoke and removes it after,
	// as before cgroups were reused (BenchmarkBurst compares the two).
	freshCgroups bool

	cgmu sync.Mutex // guards the fields below
	// cgFree are emptied cgroups of ended spokes, kept for the next ones
	// (putCgroup).
	cgFree   []*cgroup
	cgClosed bool
}

// New returns a Spawner. It refuses (returns an error) when this host lacks
// seccomp or namespaces, unless cfg.Off is set, in which case it logs that
// spokes run unconfined.
func New(cfg Config) (*Spawner, error) {
	if cfg.Exe == "" {
		cfg.Exe = "/proc/self/exe"
		if _, err := os.Stat(cfg.Exe); err != nil {
			exe, err := os.Executable()
			if err != nil {
				return nil, fmt.Errorf("sandbox: find own executable: %w", err)
			}
			cfg.Exe = exe
		}
	}
	if cfg.Args == nil {
		cfg.Args = []string{"__spoke"}
	}
	if cfg.DefaultTimeout <= 0 {
		cfg.DefaultTimeout = 180 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Spawner{cfg: cfg, log: log, id: rand.Text()[:8], poolMax: poolMax(cfg), local: map[string]bool{}}
	if cfg.LocalExe != "" {
		for _, app := range cfg.LocalApps {
			s.local[app] = true
		}
	}
	if cfg.Off {
		log.Warn("sandbox: OFF: spokes run as separate processes without OS-level confinement (no seccomp, namespaces, Landlock or cgroup)")
	} else {
		s.host = probeHost()
		if err := s.host.usable(); err != nil {
			return nil, fmt.Errorf("sandbox: %w (set the sandbox off explicitly to run spokes unconfined)", err)
		}
		for _, w := range s.host.warnings {
			log.Warn("sandbox: less restrictive on this host", "detail", w)
		}
		s.host.cg.sweep()
	}
	s.refill()
	return s, nil
}

// Close ends the pooled spokes that were never handed a policy. Spokes
// already started run on until they end or are killed.
func (s *Spawner) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle, s.closed = nil, true
	s.mu.Unlock()
	for _, p := range idle {
		p.Kill("spawner closed")
		_ = p.Wait()
	}
	s.fills.Wait()
	s.dropCgroups()
	s.mu.Lock()
	forks := slices.Collect(maps.Values(s.forks))
	s.mu.Unlock()
	for _, fc := range forks {
		fc.Close()
	}
	return nil
}

// Start starts a spoke under p (or hands p to a pooled one). The returned
// Proc must be Waited.
func (s *Spawner) Start(ctx context.Context, p Policy) (*Proc, error) {
	return s.start(ctx, p, false)
}

// start starts a spoke; a probe spoke reports what Enter applied and exits.
func (s *Spawner) start(ctx context.Context, p Policy, probe bool) (*Proc, error) {
	if p.Timeout <= 0 {
		p.Timeout = s.cfg.DefaultTimeout
	}
	p.Limits = fillLimits(p.Limits)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start spoke %s: %w", p.App, err)
	}
	exe := s.exeFor(p)
	if s.pooling() && exe == s.poolExe() && sharesNet(p) {
		// Refill when the spoke ends rather than now, so that starting a
		// replacement does not compete for the CPU with this spoke's start.
		pr := s.take()
		if pr == nil {
			s.refill()
		}
		if pr != nil {
			if err := s.claim(ctx, pr, p, probe); err == nil {
				pr.onWait = s.refill
				return pr, nil
			}
			// The pooled spoke died while idle: start a fresh one.
			pr.Kill("pooled spoke unusable")
			_ = pr.Wait()
		}
	}
	pr, err := s.prestart(exe, sharesNet(p))
	if err != nil {
		return nil, fmt.Errorf("start spoke %s: %w", p.App, err)
	}
	if err := s.claim(ctx, pr, p, probe); err != nil {
		pr.Kill("launch failed")
		_ = pr.Wait()
		return nil, fmt.Errorf("start spoke %s: %w", p.App, err)
	}
	if s.pooling() {
		pr.onWait = s.refill
	}
	return pr, nil
}

// exeFor is the binary a spoke under p runs from.
func (s *Spawner) exeFor(p Policy) string {
	if s.cfg.LocalExe != "" && sharesNet(p) && s.local[p.App] {
		return s.cfg.LocalExe
	}
	return s.cfg.Exe
}

// poolExe is the binary pooled spokes run from: the smaller one when
// there is one (the bundled apps without network are its apps); a spoke of
// another app then starts on demand from Exe.
func (s *Spawner) poolExe() string {
	if s.cfg.LocalExe != "" {
		return s.cfg.LocalExe
	}
	return s.cfg.Exe
}

// sharesNet reports whether a spoke under p may be started in the fork
// server's shared empty network namespace (sandbox/forkserver/sharednet_linux.go): it has no
// egress socket and runs no program, so its filter leaves it no socket
// with an address.
func sharesNet(p Policy) bool {
	return len(p.Domains) == 0 && len(p.PrivateNets) == 0 && !p.AllowExec
}

// prestart starts a spoke process in its namespaces and cgroup; it waits in
// Enter for its launch frame. sharedNet puts it in the shared empty network
// namespace; only a policy for which sharesNet holds may then claim it.
func (s *Spawner) prestart(exe string, sharedNet bool) (*Proc, error) {
	fds, err := socketpair()
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	hubEnd := os.NewFile(uintptr(fds[0]), "isc-hub")
	spokeEnd := os.NewFile(uintptr(fds[1]), "isc-spoke")
	defer spokeEnd.Close()
	pr := &Proc{Conn: hubEnd}
	ok := false
	defer func() {
		if !ok {
			pr.cleanup()
		}
	}()
	efds, err := socketpair()
	if err != nil {
		return nil, fmt.Errorf("egress socketpair: %w", err)
	}
	spokeEgress := os.NewFile(uintptr(efds[1]), "egress-spoke")
	defer spokeEgress.Close()
	hubEgress := os.NewFile(uintptr(efds[0]), "egress-hub")
	c, err := net.FileConn(hubEgress)
	hubEgress.Close()
	if err != nil {
		return nil, fmt.Errorf("egress socket: %w", err)
	}
	pr.egress = c.(*net.UnixConn)
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()

	attr := forkserver.ProcAttr()
	// One P: a spoke serves one invocation, and a Go runtime with more
	// starts threads that spin looking for work, which costs each spoke's
	// start about a millisecond of CPU (measured with perf stat).
	env := []string{ChildEnv + "=1", "GOMAXPROCS=1"}
	if raceEnabled {
		// The race runtime sleeps a second at exit to catch late reports.
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	if s.cfg.Off {
		// No mount namespace: a host directory stands in for the private /tmp.
		if pr.tmp, err = os.MkdirTemp("", "secgpt-spoke-"); err != nil {
			return nil, fmt.Errorf("temp dir: %w", err)
		}
		env = append(env, "TMPDIR="+pr.tmp)
	} else if err := s.confine(pr, attr, sharedNet); err != nil {
		return nil, err
	}
	mode := launch.ArgSandbox
	if s.cfg.Off {
		mode = launch.ArgOff
	}
	args := append(append([]string{exe}, s.cfg.Args...), mode)
	var out io.Writer = s.cfg.Stderr
	if out == nil {
		out = &spokeOutput{p: pr, log: s.log}
	}
	if s.cfg.Off || s.direct {
		cmd := &exec.Cmd{Path: exe, Args: args, Env: env, Dir: "/", Stdin: devnull, Stdout: out, Stderr: out,
			ExtraFiles:  []*os.File{spokeEnd, spokeEgress}, // fds 3 and 4
			SysProcAttr: attr}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		pr.PID = cmd.Process.Pid
		pr.wait = func() error {
			err := cmd.Wait()
			if e := exitOf(cmd.ProcessState); e != nil {
				return e
			}
			return err
		}
	} else if err := s.forkStart(pr, exe, attr, args, env, devnull, out, spokeEnd, spokeEgress); err != nil {
		return nil, err
	}
	ok = true
	if err := pr.cg.enter(pr.PID); err != nil {
		pr.Kill("cgroup placement failed")
		_ = pr.Wait()
		return nil, err
	}
	return pr, nil
}

// claim hands a started spoke its policy: the cgroup bounds, the launch
// frame (after which Enter confines the spoke and returns to app code), the
// wall-clock timer and the egress proxy.
func (s *Spawner) claim(ctx context.Context, pr *Proc, p Policy, probe bool) error {
	l := launch.Frame{Policy: p, Sandbox: !s.cfg.Off, Probe: probe, Egress: len(p.Domains) > 0 || len(p.PrivateNets) > 0, Nproc: p.Limits.Procs}
	if pr.sharedNet && !sharesNet(p) {
		return fmt.Errorf("spoke %s needs a network namespace of its own (egress or exec) but was started in the shared one", p.App)
	}
	if pr.cg != nil && pr.cg.pidsFile != "" {
		l.Nproc += p.Limits.Procs / 2
	}
	if !s.cfg.Off {
		if pr.cg != nil {
			if err := pr.cg.setLimits(p.Limits); err != nil {
				return err
			}
		} else if !raceEnabled {
			// RLIMIT_DATA counts writable private mappings, which is where
			// the Go heap lives, and not the PROT_NONE address space Go
			// reserves (which made RLIMIT_AS unusable): measured, a Go spoke
			// runs with RLIMIT_DATA = Limits.Memory and a 4 GiB allocation
			// fails.
			l.RlimitData = p.Limits.Memory
		}
		if p.AllowExec {
			s.warned.log(s.log, "sandbox: less restrictive: spoke may run programs (exec, fork, wait)", p.App)
		}
	}
	var fds []int
	if !s.cfg.Off {
		var err error
		if l.Mounts, fds, err = s.prepareMounts(pr.PID, p.Mounts); err != nil {
			return fmt.Errorf("policy mounts: %w", err)
		}
		defer func() {
			for _, fd := range fds {
				_ = unix.Close(fd)
			}
		}()
	}
	frame, err := launch.Encode(l)
	if err != nil {
		return err
	}
	pr.mu.Lock()
	pr.app, pr.cpu = p.App, p.Limits.CPU
	pr.mu.Unlock()
	if err := sendLaunch(pr.Conn, frame, fds); err != nil {
		return fmt.Errorf("send policy: %w", err)
	}
	pr.mu.Lock()
	pr.timer = time.AfterFunc(p.Timeout, func() { pr.Kill(fmt.Sprintf("wall-clock timeout %s", p.Timeout)) })
	pr.mu.Unlock()
	if l.Egress {
		// The proxy outlives the request that started the spoke but not the
		// spoke: Wait cancels it, closing every upstream connection.
		ectx, stop := context.WithCancel(context.WithoutCancel(ctx))
		pr.mu.Lock()
		pr.egressStop = stop
		pr.mu.Unlock()
		go serveEgress(ectx, pr.egress, p, s.cfg, s.log)
	} else {
		_ = pr.egress.Close()
	}
	return nil
}

func fillLimits(l Limits) Limits {
	d := DefaultLimits()
	if l.CPU <= 0 {
		l.CPU = d.CPU
	}
	if l.Memory <= 0 {
		l.Memory = d.Memory
	}
	if l.FileSize <= 0 {
		l.FileSize = d.FileSize
	}
	if l.OpenFiles == 0 {
		l.OpenFiles = d.OpenFiles
	}
	if l.Procs == 0 {
		l.Procs = d.Procs
	}
	if l.Tmp <= 0 {
		l.Tmp = d.Tmp
	}
	return l
}

// IsChild reports whether this process was started as a spoke.
func IsChild() bool { return launch.IsChild() }
