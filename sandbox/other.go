//go:build !linux

package sandbox

import (
	"errors"
	"io"
	"os"
	"runtime"
	"syscall"

	"github.com/secgpt-go/secgpt/sandbox/launch"
)

// On other systems spokes cannot be confined: New refuses unless Config.Off
// is set, and the doctor says why.

var errUnsupported = errors.New("spokes cannot be confined on " + runtime.GOOS + " (seccomp, namespaces and Landlock are Linux features)")

type hostSupport struct {
	cg       cgroupRoot
	warnings []string
}

func probeHost() hostSupport { return hostSupport{} }

func (hostSupport) usable() error { return errUnsupported }

func (hostSupport) checks() []Check {
	return []Check{{Name: "seccomp", Detail: "Linux only"}, {Name: "namespaces", Detail: "Linux only"},
		{Name: "landlock", Detail: "Linux only"}, {Name: "memory limit", Detail: "Linux only"}}
}

type cgroupRoot struct{}

func (cgroupRoot) sweep() {}

type cgroup struct{ pidsFile string }

func (*cgroup) enter(int) error                                  { return nil }
func (*cgroup) setLimits(Limits) error                           { return nil }
func (*cgroup) oomKilled() bool                                  { return false }
func (*cgroup) pidsMaxed() bool                                  { return false }
func (*cgroup) remove()                                          {}
func (*Spawner) dropCgroups()                                    {}
func (*Spawner) confine(*Proc, *syscall.SysProcAttr, bool) error { return errUnsupported }

func kernelRelease() string { return "unknown" }

func socketpair() ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return fds, os.NewSyscallError("socketpair", err)
	}
	syscall.CloseOnExec(fds[0])
	syscall.CloseOnExec(fds[1])
	return fds, nil
}

func (s *Spawner) prepareMounts(_ int, ms []Mount) ([]launch.FrameMount, []int, error) {
	if len(ms) > 0 {
		return nil, nil, errUnsupported
	}
	return nil, nil, nil
}

func sendLaunch(conn *os.File, frame []byte, _ []int) error {
	_, err := conn.Write(frame)
	return err
}

func (*Spawner) forkStart(*Proc, string, *syscall.SysProcAttr, []string, []string, *os.File, io.Writer, *os.File, *os.File) error {
	return errUnsupported
}
