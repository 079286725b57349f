//go:build !linux

package invariants

import "syscall"

// relayPair is relayPair of tap_linux.go where socketpair(2) takes no
// flags: they are set after it under the fork lock, so no process started
// in between inherits the descriptors. (Spokes run only on Linux; this
// keeps the harness building elsewhere.)
func relayPair() ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return fds, err
	}
	for _, fd := range fds {
		syscall.CloseOnExec(fd)
		if err := syscall.SetNonblock(fd, true); err != nil {
			syscall.Close(fds[0])
			syscall.Close(fds[1])
			return fds, err
		}
	}
	return fds, nil
}
