package confine

import (
	"fmt"
	"math"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// keepInherited marks every descriptor from 3 up close-on-exec. A spoke
// inherits the ISC socket (fd 3) and the egress socket (fd 4) without that
// flag, since exec had to pass them; an exec app's program (a third-party
// MCP server) would otherwise inherit both and could write hub frames, or
// open egress connections, past the spoke's client. Descriptors Go opens
// itself carry the flag already, so after this the program an exec app
// starts holds only the stdio os/exec gives it. The spoke keeps using
// both sockets: the flag only acts at exec.
func keepInherited() error {
	err := unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	// Kernels before 5.11 have no CLOSE_RANGE_CLOEXEC: mark each open
	// descriptor in turn.
	ents, derr := os.ReadDir("/proc/self/fd")
	if derr != nil {
		return fmt.Errorf("close_range: %w; list descriptors: %w", err, derr)
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		// The directory's own descriptor is gone by now: EBADF is fine.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && err != unix.EBADF {
			return fmt.Errorf("mark fd %d close-on-exec: %w", fd, err)
		}
	}
	return nil
}
