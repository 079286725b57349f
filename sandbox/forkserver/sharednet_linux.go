package forkserver

import (
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// Spokes without egress share one empty network namespace.
//
// Why: a network namespace is the costliest of a spoke's seven to make and
// to tear down (measured: 0.4-0.6 ms of CPU to make and 0.25-0.3 ms of the
// kernel's cleanup_net workqueue to free, against 0.1 ms at most for any
// other), and a burst's namespaces are left for the kernel to free after
// it (docs/sandbox.md, "A burst of conversations").
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
// keep a namespace of their own (sandbox.sharesNet). Pooled spokes, whose policy is
// not known when they start, are in the shared one, so those policies skip
// the pool.

// sharedNet is the fork server's shared network namespace and the threads
// that clone spokes into it, made on first use.
//
// The threads are locked to goroutines that never end: a spoke's
// parent-death signal follows the thread that cloned it, and Go ends a
// locked thread whose goroutine returns, which would kill every spoke that
// thread had ever cloned (a thread goes back to Go's pool after a start
// and may clone others later). So no thread here changes namespace and is
// then given back or ended.
type sharedNet struct {
	once sync.Once
	err  error
	jobs chan func() // run on a thread inside the shared namespace
}

// start runs fn (a fork) on a thread inside the shared namespace, so the
// child is cloned into it. It returns an error without running fn when the
// namespace cannot be made here (an unprivileged fork server).
func (n *sharedNet) start(fn func() error) error {
	n.once.Do(n.open)
	if n.err != nil {
		return n.err
	}
	done := make(chan error, 1)
	n.jobs <- func() { done <- fn() }
	return <-done
}

// open makes the namespace with unshare on a thread of its own and starts
// maxConcurrentForks threads in it (that one included) to run start's
// jobs, so that starts still overlap as they do outside it.
func (n *sharedNet) open() {
	n.jobs = make(chan func())
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked once the namespace changed
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread() // unchanged: safe to give back
			ready <- fmt.Errorf("make the shared network namespace: %w", err)
			return
		}
		ns, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ready <- fmt.Errorf("open the shared network namespace: %w", err)
			select {} // this thread is in the namespace: park it for good
		}
		joined := make(chan bool)
		for range maxConcurrentForks - 1 {
			go func() {
				runtime.LockOSThread()
				if unix.Setns(ns, unix.CLONE_NEWNET) != nil {
					runtime.UnlockOSThread() // unchanged: safe to give back
					joined <- false
					return
				}
				joined <- true
				for job := range n.jobs {
					job()
				}
			}()
		}
		for range maxConcurrentForks - 1 {
			<-joined
		}
		_ = unix.Close(ns)
		ready <- nil
		for job := range n.jobs {
			job()
		}
	}()
	n.err = <-ready
}
