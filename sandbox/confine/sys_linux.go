package confine

import (
	"os"

	"golang.org/x/sys/unix"
)

// socketpair is a close-on-exec unix stream socketpair.
func socketpair() ([2]int, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fds, os.NewSyscallError("socketpair", err)
	}
	return fds, nil
}
