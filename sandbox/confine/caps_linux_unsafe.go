//go:build linux

package confine

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/psx"
)

// clearCapabilities empties the effective, permitted and inheritable
// capability sets of every thread: capset only changes the calling thread,
// so it goes through psx, which runs it on all of them.
func clearCapabilities() error {
	// Heap-allocated and kept alive: psx.Syscall3 is not a syscall the
	// compiler knows, so stack-allocated arguments could move under it.
	hdr := &unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := new([2]unix.CapUserData)
	_, _, errno := psx.Syscall3(unix.SYS_CAPSET, uintptr(unsafe.Pointer(hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	runtime.KeepAlive(hdr)
	runtime.KeepAlive(data)
	if errno != 0 {
		return fmt.Errorf("capset: %w", errno)
	}
	return nil
}
