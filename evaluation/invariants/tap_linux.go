package invariants

import "syscall"

// relayPair is the tap's socket pair between the hub and its relay:
// close-on-exec from the start, since spokes are started concurrently,
// and non-blocking for the runtime's poller.
func relayPair() ([2]int, error) {
	return syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, 0)
}
