package sandbox

import (
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// Spokes without egress share one empty network namespace.
//
// Why: a network namespace is the costliest of a spoke's seven to make and
// to tear down (the kernel registers a loopback device and per-namespace
// tables under the rtnl lock, and frees them later on one workqueue,
// cleanup_net), and a burst of a thousand spokes left a thousand of them
// for the kernel to tear down while the next burst was being started
// (docs/sandbox.md, "A burst of conversations").
//
// Why it is no weaker: a network namespace holds network interfaces,
// routes, sockets bound to inet ports and abstract unix socket names. A
// spoke without egress reaches none of them: its seccomp filter refuses
// socket (only socketpair(AF_UNIX) is allowed), bind, connect, listen,
// accept and setsockopt with EPERM, so it cannot make a socket that has an
// address, and a socketpair socket cannot get one (autobind needs
// SO_PASSCRED, i.e. setsockopt, or bind/connect). With nothing able to
// bind a name in the shared namespace, there is nothing in it to send to.
// Landlock (ABI 6 and later) scopes abstract unix sockets as a second
// layer: a spoke may not connect or send to one bound outside its own
// domain. Its loopback stays down. The namespace belongs to the fork
// server's user namespace (the host's), in which a spoke has no
// capability, so it cannot configure it either (before, each spoke was
// uid 0 of the user namespace owning its network namespace, with its
// capabilities cleared). /proc/self/net is refused by Landlock.
//
// Spokes with egress (fd 4) and spokes that run programs (Policy.AllowExec)
// keep a namespace of their own, as do pooled spokes (their policy is not
// known when they start).

// sharedNet is the fork server's shared network namespace, made on first
// use.
type sharedNet struct {
	once sync.Once
	ns   int // the shared namespace, O_RDONLY
	host int // the fork server's own namespace, to return to
	err  error
}

// get returns the shared namespace's descriptor, making it once.
func (n *sharedNet) get() (shared, host int, err error) {
	n.once.Do(func() { n.ns, n.host, n.err = makeSharedNet() })
	return n.ns, n.host, n.err
}

// makeSharedNet makes an empty network namespace on a thread of its own
// and returns a descriptor of it and of the fork server's namespace. The
// thread that made it stays locked and ends with its goroutine, so no
// other goroutine runs in the new namespace by accident.
func makeSharedNet() (shared, host int, err error) {
	shared, host = -1, -1
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if host, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			err = fmt.Errorf("open own network namespace: %w", err)
			return
		}
		if err = unix.Unshare(unix.CLONE_NEWNET); err != nil {
			err = fmt.Errorf("make the shared network namespace: %w", err)
			return
		}
		if shared, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			err = fmt.Errorf("open the shared network namespace: %w", err)
		}
	}()
	<-done
	if err != nil && host >= 0 {
		_ = unix.Close(host)
		host = -1
	}
	return shared, host, err
}

// startIn runs start (a fork) on a thread that is in the network namespace
// ns for the call, so the child is cloned into it; host is the namespace
// the thread returns to. If it cannot return, the thread stays locked and
// ends with the calling goroutine.
func startIn(ns, host int, start func() error) error {
	runtime.LockOSThread()
	if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter the shared network namespace: %w", err)
	}
	err := start()
	if unix.Setns(host, unix.CLONE_NEWNET) == nil {
		runtime.UnlockOSThread()
	}
	return err
}
