package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/secgpt-go/secgpt/sandbox/launch"
)

// prepareMounts checks the policy's mounts on the hub side and, when the
// hub runs as root, makes one detached, idmapped copy of each source
// (open_tree + mount_setattr): inside it, files owned by host root appear
// owned by the spoke's user, so a root-owned 0600 file or 0700 directory
// the operator named is usable by that spoke and by no one else, without
// changing anything on the host. pid is the spoke's process (its user
// namespace gives the mapping). The caller closes the returned descriptors
// once they are sent.
func (s *Spawner) prepareMounts(pid int, ms []Mount) ([]launch.FrameMount, []int, error) {
	if len(ms) == 0 {
		return nil, nil, nil
	}
	if len(ms) > launch.MaxMounts {
		return nil, nil, fmt.Errorf("%d mounts, at most %d", len(ms), launch.MaxMounts)
	}
	var out []launch.FrameMount
	var fds []int
	ok := false
	defer func() {
		if !ok {
			for _, fd := range fds {
				unix.Close(fd)
			}
		}
	}()
	userns := -1
	if s.host.root {
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/user", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("open spoke user namespace: %w", err)
		}
		userns = fd
		defer unix.Close(userns)
	}
	for _, m := range ms {
		if err := checkMountPath("mount source", m.Source); err != nil {
			return nil, nil, err
		}
		src, err := filepath.EvalSymlinks(m.Source)
		if err != nil {
			return nil, nil, fmt.Errorf("mount source: %w", err)
		}
		fi, err := os.Stat(src)
		if err != nil {
			return nil, nil, fmt.Errorf("mount source: %w", err)
		}
		if !fi.IsDir() && !fi.Mode().IsRegular() {
			return nil, nil, fmt.Errorf("mount source %s: neither a regular file nor a directory", m.Source)
		}
		tgt := m.Target
		if tgt == "" {
			tgt = m.Source
		}
		if err := checkMountPath("mount target", tgt); err != nil {
			return nil, nil, err
		}
		lm := launch.FrameMount{Source: src, Target: tgt, Write: m.Write, Dir: fi.IsDir(), FD: -1}
		if tgt != "/tmp" && !strings.HasPrefix(tgt, "/tmp/") {
			lm.Cover = s.firstUnsearchable(tgt)
		}
		if userns >= 0 {
			// A RealOwners copy is not idmapped: host root's files stay
			// root's (unmapped in the spoke's namespace, so shown as
			// nobody), and the spoke, host nobody, gets the others' bits.
			ns := userns
			if m.RealOwners {
				ns = -1
			}
			fd, err := detachedTree(src, ns, m.Write)
			if err != nil {
				return nil, nil, fmt.Errorf("mount %s: %w", m.Source, err)
			}
			lm.FD = len(fds)
			fds = append(fds, fd)
		}
		out = append(out, lm)
	}
	ok = true
	return out, fds, nil
}

// detachedTree returns a detached copy of the mount at path, nosuid,
// nodev, read-only unless write, and idmapped through userns (host root
// becomes the spoke's user) when userns is not negative.
func detachedTree(path string, userns int, write bool) (int, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("open_tree: %w", err)
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if userns >= 0 {
		attr.Attr_set |= unix.MOUNT_ATTR_IDMAP
		attr.Userns_fd = uint64(userns)
	}
	if !write {
		attr.Attr_set |= unix.MOUNT_ATTR_RDONLY
	}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, attr); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("mount attributes: %w", err)
	}
	return fd, nil
}

// firstUnsearchable returns the first proper ancestor of p (below /) that
// the spoke's user cannot search, or "". A root hub's spokes run as
// nobody, so only the others' execute bit counts; an unprivileged hub's
// spokes share its uid and can search what it can.
func (s *Spawner) firstUnsearchable(p string) string {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := ""
	for _, part := range parts[:len(parts)-1] {
		cur += "/" + part
		fi, err := os.Stat(cur)
		if err != nil {
			return cur // missing: the spoke makes it inside a cover
		}
		if s.host.root {
			if fi.Mode().Perm()&0o001 == 0 {
				return cur
			}
		} else if unix.Access(cur, unix.X_OK) != nil {
			return cur
		}
	}
	return ""
}

// sendLaunch writes the launch frame on the hub's end of the ISC socket,
// passing fds with its first bytes.
func sendLaunch(conn *os.File, frame []byte, fds []int) error {
	if len(fds) == 0 {
		_, err := conn.Write(frame)
		return err
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var n int
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		n, serr = unix.SendmsgN(int(fd), frame, unix.UnixRights(fds...), nil, 0)
		return !errors.Is(serr, unix.EAGAIN)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("sendmsg: %w", err)
	}
	_, err = conn.Write(frame[n:])
	return err
}
