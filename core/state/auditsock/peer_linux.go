package auditsock

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// listenPrivate listens on path with the socket created 0600: the umask
// applies from the start, so there is no window in which another user
// could connect. (The umask is process-wide; the bot sets it only here,
// at start, before serving.)
func listenPrivate(path string) (net.Listener, error) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	return net.Listen("unix", path)
}

// checkPeer refuses a peer that runs as another user: file modes already
// keep others out, this holds even if the directory's mode was loosened.
func checkPeer(c net.Conn) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return errors.New("audit socket: not a unix connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return fmt.Errorf("audit socket: peer credentials: %w", err)
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return fmt.Errorf("audit socket: peer credentials: %w", err)
	}
	if cerr != nil {
		return fmt.Errorf("audit socket: peer credentials: %w", cerr)
	}
	if int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("audit socket: refused peer uid %d (pid %d)", cred.Uid, cred.Pid)
	}
	return nil
}
