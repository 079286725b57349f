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
	uid, pid, err := peerUID(c)
	if err != nil {
		return err
	}
	if uid != os.Getuid() {
		return fmt.Errorf("audit socket: refused peer uid %d (pid %d)", uid, pid)
	}
	return nil
}

// peerUID returns the uid and pid of the process at the other end of c
// (SO_PEERCRED: for a client, the server as it was when it listened).
func peerUID(c net.Conn) (uid, pid int, err error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, 0, errors.New("audit socket: not a unix connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, 0, fmt.Errorf("audit socket: peer credentials: %w", err)
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, 0, fmt.Errorf("audit socket: peer credentials: %w", err)
	}
	if cerr != nil {
		return 0, 0, fmt.Errorf("audit socket: peer credentials: %w", cerr)
	}
	return int(cred.Uid), int(cred.Pid), nil
}

// FileOwner returns the uid that owns path (the state file, whose owner
// is the user the bot runs as).
func FileOwner(path string) (int, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("owner of %s: %w", path, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("owner of %s: no unix file status", path)
	}
	return int(st.Uid), nil
}
