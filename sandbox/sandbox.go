// Package sandbox starts spokes: the same binary re-executed with only the
// ISC socket (fd 3), an empty environment, its own process group and the
// bounds of a Policy. The child side (Enter) applies the in-process part of
// the policy before any app code runs.
//
// Only core/hub (through its Spawner interface), bot/ wiring and tests import
// this package; it knows nothing of what an app does.
package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ChildEnv is the one environment variable a spoke is started with; its
// presence tells the binary to run as a spoke (tests use it from TestMain).
const ChildEnv = "SECGPT_SPOKE"

// ISCFD is the file descriptor of the ISC socket in the spoke.
const ISCFD = 3

// Policy is what one spoke may do.
type Policy struct {
	// App is the app the spoke runs (for logs and the egress allow-list).
	App string `json:"app"`
	// Timeout is the hub-side wall-clock bound; the process group is killed
	// when it passes.
	Timeout time.Duration `json:"timeout"`
	// Domains are the registrable domains the app may reach through the proxy.
	Domains []string `json:"domains,omitempty"`
	// AllowExec lets the spoke execve (external-program apps only).
	AllowExec bool `json:"allow_exec,omitempty"`
	// Limits bound the spoke's resources.
	Limits Limits `json:"limits"`
}

// Limits are the resource bounds of a spoke.
type Limits struct {
	// CPU is the CPU-time limit (RLIMIT_CPU soft = hard).
	CPU time.Duration `json:"cpu"`
	// Memory bounds the spoke's memory in bytes.
	Memory int64 `json:"memory"`
	// FileSize bounds any file the spoke writes (RLIMIT_FSIZE).
	FileSize int64 `json:"file_size"`
	// OpenFiles bounds open descriptors (RLIMIT_NOFILE soft = hard).
	OpenFiles uint64 `json:"open_files"`
	// Procs bounds processes and threads.
	Procs uint64 `json:"procs"`
}

// DefaultLimits are used for zero fields of a Policy's Limits.
func DefaultLimits() Limits {
	return Limits{CPU: 60 * time.Second, Memory: 512 << 20, FileSize: 16 << 20, OpenFiles: 64, Procs: 64}
}

// Config configures a Spawner.
type Config struct {
	// Exe is the binary to re-execute; "" means /proc/self/exe.
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
}

// Spawner starts spokes.
type Spawner struct {
	cfg Config
	log *slog.Logger
}

// New returns a Spawner.
func New(cfg Config) (*Spawner, error) {
	if cfg.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("sandbox: find own executable: %w", err)
		}
		cfg.Exe = exe
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
	return &Spawner{cfg: cfg, log: log}, nil
}

// Proc is a running spoke.
type Proc struct {
	// Conn is the hub's end of the ISC socketpair.
	Conn *os.File
	PID  int

	cmd      *exec.Cmd
	timer    *time.Timer
	waitOnce sync.Once
	waitErr  error
	mu       sync.Mutex // guards reason
	reason   string
}

// Start starts a spoke under p. The returned Proc must be Waited.
func (s *Spawner) Start(ctx context.Context, p Policy) (*Proc, error) {
	if p.Timeout <= 0 {
		p.Timeout = s.cfg.DefaultTimeout
	}
	p.Limits = fillLimits(p.Limits)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("start spoke %s: socketpair: %w", p.App, err)
	}
	hubEnd := os.NewFile(uintptr(fds[0]), "isc-hub")
	spokeEnd := os.NewFile(uintptr(fds[1]), "isc-spoke")
	defer spokeEnd.Close()

	pol, err := json.Marshal(p)
	if err != nil {
		hubEnd.Close()
		return nil, fmt.Errorf("start spoke %s: encode policy: %w", p.App, err)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		hubEnd.Close()
		return nil, fmt.Errorf("start spoke %s: %w", p.App, err)
	}
	defer devnull.Close()
	cmd := exec.Command(s.cfg.Exe, append(append([]string{}, s.cfg.Args...), string(pol))...)
	cmd.Env = []string{ChildEnv + "=1"}
	cmd.Dir = "/"
	cmd.Stdin = devnull
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = []*os.File{spokeEnd} // becomes fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		hubEnd.Close()
		return nil, fmt.Errorf("start spoke %s: %w", p.App, err)
	}
	pr := &Proc{Conn: hubEnd, PID: cmd.Process.Pid, cmd: cmd}
	pr.timer = time.AfterFunc(p.Timeout, func() { pr.Kill(fmt.Sprintf("wall-clock timeout %s", p.Timeout)) })
	return pr, nil
}

// Kill ends the spoke's whole process group, recording why.
func (p *Proc) Kill(reason string) {
	p.mu.Lock()
	if p.reason == "" {
		p.reason = reason
	}
	p.mu.Unlock()
	_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	_ = p.Conn.Close()
}

// KillReason returns why the spoke was killed, or "".
func (p *Proc) KillReason() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reason
}

// Wait reaps the spoke (and kills what is left of its group).
func (p *Proc) Wait() error {
	p.waitOnce.Do(func() {
		p.waitErr = p.cmd.Wait()
		p.timer.Stop()
		_ = syscall.Kill(-p.PID, syscall.SIGKILL)
		_ = p.Conn.Close()
	})
	return p.waitErr
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
	return l
}

// IsChild reports whether this process was started as a spoke.
func IsChild() bool { return os.Getenv(ChildEnv) == "1" }

// Enter is called first thing in a spoke. It reads the policy from the last
// argument, applies the in-process confinement, and returns the policy and
// the ISC socket.
func Enter() (Policy, *os.File, error) {
	var p Policy
	if len(os.Args) < 2 {
		return p, nil, errors.New("sandbox: spoke started without a policy argument")
	}
	if err := json.Unmarshal([]byte(os.Args[len(os.Args)-1]), &p); err != nil {
		return p, nil, fmt.Errorf("sandbox: decode policy: %w", err)
	}
	f := os.NewFile(ISCFD, "isc")
	if f == nil {
		return p, nil, errors.New("sandbox: no ISC socket on fd 3")
	}
	return p, f, nil
}
