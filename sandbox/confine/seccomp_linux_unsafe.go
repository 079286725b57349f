//go:build linux

package confine

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccompSetFilter is seccomp(SECCOMP_SET_MODE_FILTER, flags, prog). With
// TSYNC a positive return is the id of a thread that could not be synced.
func seccompSetFilter(flags uintptr, prog []unix.SockFilter) error {
	fprog := &unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return errno
	}
	if r != 0 {
		return unix.ESRCH // thread r could not be synchronised
	}
	return nil
}
