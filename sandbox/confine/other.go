//go:build !linux

package confine

import (
	"errors"
	"os"
	"runtime"
	"syscall"

	"github.com/secgpt-go/secgpt/sandbox/launch"
)

// On other systems a spoke cannot confine itself: the hub refuses to start
// sandboxed spokes unless the sandbox is off, and Enter then only reads the
// launch frame.

var errUnsupported = errors.New("spokes cannot be confined on " + runtime.GOOS + " (seccomp, namespaces and Landlock are Linux features)")

type prepared struct{ fds []int }

func prepare() *prepared { return &prepared{} }

func confineSelf(launch.Frame, *prepared) ([]launch.Check, error) { return nil, errUnsupported }

func selfCheck() []launch.Check { return nil }

// LandlockABI is 0: Landlock is a Linux feature.
func LandlockABI() (int, error) { return 0, nil }

func readLaunchFDs(f *os.File) (launch.Frame, []int, error) {
	l, err := launch.Read(f)
	return l, nil, err
}

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

// keepInherited marks the ISC and egress sockets close-on-exec, so a
// program the spoke starts does not inherit them.
func keepInherited() error {
	syscall.CloseOnExec(launch.ISCFD)
	syscall.CloseOnExec(launch.EgressFD)
	return nil
}
