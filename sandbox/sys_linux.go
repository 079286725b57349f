package sandbox

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// procAttr is every spoke's start: its own process group, killed with the
// hub.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// socketpair is a close-on-exec unix stream socketpair.
func socketpair() ([2]int, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fds, os.NewSyscallError("socketpair", err)
	}
	return fds, nil
}
