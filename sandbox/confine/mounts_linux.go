//go:build linux

package confine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/secgpt-go/secgpt/sandbox/launch"
)

// applyMounts runs in the spoke, after the private /tmp and before
// Landlock: it covers unsearchable ancestors with an empty tmpfs, makes the
// mount points and attaches each mount (the hub's idmapped copy, or a bind
// of the source when the hub passed none). Covers end read-only.
func applyMounts(ms []launch.FrameMount, fds []int) error {
	var covers []string
	for _, m := range ms {
		if m.Cover != "" && !slices.Contains(covers, m.Cover) {
			covers = append(covers, m.Cover)
		}
	}
	slices.Sort(covers) // a parent sorts before its children
	var mounted []string
	for _, c := range covers {
		if under(c, mounted) {
			continue // already inside a cover: made below as a directory
		}
		if err := os.MkdirAll(c, 0o755); err != nil {
			return fmt.Errorf("cover %s: %w", c, err)
		}
		if err := unix.Mount("tmpfs", c, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=64k,mode=755"); err != nil {
			return fmt.Errorf("cover %s: %w", c, err)
		}
		mounted = append(mounted, c)
	}
	for _, m := range ms {
		if err := mountPoint(m); err != nil {
			return err
		}
		if m.FD >= 0 {
			if m.FD >= len(fds) {
				return fmt.Errorf("mount %s: descriptor %d was not passed", m.Target, m.FD)
			}
			if err := unix.MoveMount(fds[m.FD], "", unix.AT_FDCWD, m.Target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
				return fmt.Errorf("attach %s: %w", m.Target, err)
			}
			continue
		}
		if err := unix.Mount(m.Source, m.Target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %w", m.Target, err)
		}
		flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_NOSUID | unix.MS_NODEV)
		if !m.Write {
			flags |= unix.MS_RDONLY
		}
		if err := unix.Mount("", m.Target, "", flags, ""); err != nil {
			return fmt.Errorf("remount %s: %w", m.Target, err)
		}
	}
	for _, fd := range fds {
		unix.Close(fd)
	}
	for _, c := range mounted {
		attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(unix.AT_FDCWD, c, 0, attr); err != nil {
			return fmt.Errorf("cover %s read-only: %w", c, err)
		}
	}
	return nil
}

// mountPoint makes m.Target (and its parents) when it is missing; that is
// possible only inside a cover or the private /tmp.
func mountPoint(m launch.FrameMount) error {
	fi, err := os.Stat(m.Target)
	switch {
	case err == nil:
		if fi.IsDir() != m.Dir {
			return fmt.Errorf("mount target %s: a directory and a file do not mount on each other", m.Target)
		}
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("mount target %s: %w", m.Target, err)
	}
	if err := os.MkdirAll(filepath.Dir(m.Target), 0o755); err != nil {
		return fmt.Errorf("mount target %s: %w", m.Target, err)
	}
	if m.Dir {
		err = os.Mkdir(m.Target, 0o755)
	} else {
		var f *os.File
		if f, err = os.OpenFile(m.Target, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			err = f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("mount target %s: %w", m.Target, err)
	}
	return nil
}

func under(p string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// readLaunchFDs reads the launch frame from the ISC socket together with
// the descriptors the hub passed with its first bytes (SCM_RIGHTS).
func readLaunchFDs(f *os.File) (launch.Frame, []int, error) {
	var hdr [4]byte
	oob := make([]byte, unix.CmsgSpace(launch.MaxMounts*4))
	n, oobn, _, _, err := unix.Recvmsg(int(f.Fd()), hdr[:], oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return launch.Frame{}, nil, fmt.Errorf("recvmsg: %w", err)
	}
	var fds []int
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return launch.Frame{}, nil, fmt.Errorf("control message: %w", err)
		}
		for _, m := range msgs {
			rights, err := unix.ParseUnixRights(&m)
			if err != nil {
				return launch.Frame{}, nil, fmt.Errorf("control message: %w", err)
			}
			fds = append(fds, rights...)
		}
	}
	l, err := launch.Read(io.MultiReader(bytes.NewReader(hdr[:n]), f))
	return l, fds, err
}
