//go:build linux

package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/secgpt-go/secgpt/sandbox/confine"
)

func init() {
	// "unix-listen NAME": bind and listen on the abstract unix socket NAME,
	// by socket(2) and by binding a socketpair socket; then hold until the
	// hub hangs up, so that other spokes run beside it.
	actions["unix-listen"] = func(conn *os.File, args []string) outcome {
		var errs []string
		if fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0); err != nil {
			errs = append(errs, "socket: "+err.Error())
		} else {
			err := unix.Bind(fd, &unix.SockaddrUnix{Name: "@" + args[0]})
			if err == nil {
				err = unix.Listen(fd, 1)
			}
			if err == nil {
				return outcome{OK: true, Detail: "listening on @" + args[0]}
			}
			errs = append(errs, "bind: "+err.Error())
		}
		if fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0); err != nil {
			errs = append(errs, "socketpair: "+err.Error())
		} else if err := unix.Bind(fds[0], &unix.SockaddrUnix{Name: "@" + args[0] + "-pair"}); err != nil {
			errs = append(errs, "bind a socketpair socket: "+err.Error())
		} else {
			return outcome{OK: true, Detail: "bound a socketpair socket to @" + args[0] + "-pair"}
		}
		b, _ := json.Marshal(outcome{Err: strings.Join(errs, "; ")})
		_, _ = conn.Write(append(b, '\n'))
		var buf [1]byte
		_, _ = conn.Read(buf[:])
		return outcome{Err: "released"}
	}
	// "unix-connect STREAM DGRAM": connect to the abstract stream socket
	// STREAM, and send a datagram to the abstract datagram socket DGRAM
	// from a socketpair socket (sendmsg with an address, the one way to
	// name a peer that the filter leaves).
	actions["unix-connect"] = func(_ *os.File, args []string) outcome {
		var errs []string
		if fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0); err != nil {
			errs = append(errs, "socket: "+err.Error())
		} else if err := unix.Connect(fd, &unix.SockaddrUnix{Name: "@" + args[0]}); err != nil {
			errs = append(errs, "connect: "+err.Error())
		} else {
			return outcome{OK: true, Detail: "connected to @" + args[0]}
		}
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
		if err != nil {
			return outcome{Err: strings.Join(append(errs, "socketpair: "+err.Error()), "; ")}
		}
		if _, err := unix.SendmsgN(fds[0], []byte("hello"), nil, &unix.SockaddrUnix{Name: "@" + args[1]}, 0); err != nil {
			errs = append(errs, "sendmsg: "+err.Error())
		} else {
			return outcome{OK: true, Detail: "sent to @" + args[1]}
		}
		return outcome{Err: strings.Join(errs, "; ")}
	}
}

// TestSharedNetworkNamespace: spokes without egress run in one shared
// empty network namespace, apart from the hub's and from an egress
// spoke's, and still cannot reach each other or anything bound in it: a
// spoke can neither listen on nor connect to an abstract unix socket, and
// a datagram it addresses to one bound there (by the test, as root, since
// no spoke can) is refused.
// Pooled spokes, started before their policy is known, are in the shared
// namespace too; an egress spoke is then started on demand.
func TestSharedNetworkNamespace(t *testing.T) {
	for _, tc := range []struct {
		name string
		pool int
	}{{"on demand", 0}, {"pooled", 2}} {
		t.Run(tc.name, func(t *testing.T) { testSharedNetworkNamespace(t, tc.pool) })
	}
}

func testSharedNetworkNamespace(t *testing.T, pool int) {
	s := newSpawner(t, Config{Pool: pool})
	t.Cleanup(func() { _ = s.Close() })
	name := fmt.Sprintf("secgpt-sharednet-%d-%d", os.Getpid(), time.Now().UnixNano())

	// start starts a spoke and returns it with its first outcome.
	start := func(p Policy) (*Proc, outcome) {
		t.Helper()
		p.Timeout = 20 * time.Second
		p.App = "test." + p.Args[0]
		pr, err := s.Start(context.Background(), p)
		if err != nil {
			t.Fatalf("start %v: %v", p.Args, err)
		}
		t.Cleanup(func() { pr.Conn.Close(); _ = pr.Wait() })
		line, err := bufio.NewReader(pr.Conn).ReadBytes('\n')
		var o outcome
		if err == nil {
			err = json.Unmarshal(line, &o)
		}
		if err != nil {
			t.Fatalf("spoke %v: read outcome: %v (%q)", p.Args, err, line)
		}
		return pr, o
	}
	netns := func(pid int) string {
		t.Helper()
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			t.Fatalf("network namespace of %d: %v", pid, err)
		}
		return l
	}
	const eperm = "operation not permitted"

	a, oa := start(Policy{Args: []string{"unix-listen", name}})
	b, ob := start(Policy{Args: []string{"unix-listen", name + "-b"}})
	for i, o := range []outcome{oa, ob} {
		if o.OK || strings.Count(o.Err, eperm) != 2 {
			t.Errorf("spoke %d listening on an abstract socket: %+v, want both attempts refused with EPERM", i, o)
		}
	}
	shared := netns(a.PID)
	if got := netns(b.PID); got != shared {
		t.Fatalf("two spokes without egress are in network namespaces %s and %s, want one shared", shared, got)
	}
	if hub := netns(os.Getpid()); hub == shared {
		t.Fatalf("the shared network namespace is the hub's (%s)", hub)
	}
	eg, _ := start(Policy{Args: []string{"unix-listen", name + "-egress"}, Domains: []string{"example.com"}})
	if got := netns(eg.PID); got == shared {
		t.Errorf("an egress spoke is in the shared network namespace %s, want its own", got)
	}

	// What a spoke would reach if the filter let it: listeners bound in
	// the shared namespace.
	stream, dgram := listenIn(t, fmt.Sprintf("/proc/%d/ns/net", a.PID), name+"-hub")
	reached := make(chan string, 2)
	go func() {
		if c, err := stream.Accept(); err == nil {
			c.Close()
			reached <- "a spoke connected to the stream listener"
		}
	}()
	go func() {
		buf := make([]byte, 64)
		if n, _, err := dgram.ReadFrom(buf); err == nil {
			reached <- fmt.Sprintf("a spoke's datagram %q arrived", buf[:n])
		}
	}()

	abi, _ := confine.LandlockABI()
	_, oc := start(Policy{Args: []string{"unix-connect", name + "-hub", name + "-hub-dgram"}})
	if oc.OK {
		t.Fatalf("a spoke in the shared namespace reached a socket bound in it: %s", oc.Detail)
	}
	if !strings.Contains(oc.Err, "socket: "+eperm) {
		t.Errorf("connect attempt: %q, want socket refused with EPERM", oc.Err)
	}
	// Landlock scopes abstract sockets from ABI 6 on: a datagram to one
	// bound outside the spoke's domain is refused.
	if abi >= 6 && !strings.Contains(oc.Err, "sendmsg: "+eperm) {
		t.Errorf("datagram attempt: %q, want sendmsg refused with EPERM (Landlock ABI %d)", oc.Err, abi)
	}
	select {
	case r := <-reached:
		t.Fatal(r)
	case <-time.After(200 * time.Millisecond):
	}
	for _, p := range []*Proc{a, b, eg} {
		p.Conn.Close()
	}
}

// listenIn binds an abstract stream listener NAME and datagram socket
// NAME-dgram inside the network namespace at nsPath (the test runs as
// root), from a thread that returns to its own namespace afterwards. The
// thread must not end while in the other namespace: the fork server's
// parent-death signal follows the thread that started it.
func listenIn(t *testing.T, nsPath, name string) (net.Listener, net.PacketConn) {
	t.Helper()
	type result struct {
		ln  net.Listener
		pc  net.PacketConn
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var r result
		own, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		defer unix.Close(own)
		ns, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		defer unix.Close(ns)
		if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("setns: %w", err)}
			return
		}
		if r.ln, r.err = net.Listen("unix", "@"+name); r.err == nil {
			r.pc, r.err = net.ListenPacket("unixgram", "@"+name+"-dgram")
		}
		if err := unix.Setns(own, unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("setns back: %w", err)}
			select {} // park the thread for good rather than end it
		}
		runtime.UnlockOSThread()
		done <- r
	}()
	r := <-done
	if r.err != nil {
		if errors.Is(r.err, unix.EPERM) && os.Getuid() != 0 && os.Getenv("CI") != "true" {
			t.Skipf("entering the spokes' network namespace needs root: %v", r.err)
		}
		t.Fatalf("listen in the shared namespace: %v", r.err)
	}
	t.Cleanup(func() { r.ln.Close(); r.pc.Close() })
	return r.ln, r.pc
}

// TestSharedNetKeepsEarlierSpokes: making the shared namespace must not
// end a thread of the fork server, since a spoke's parent-death signal
// follows the thread that cloned it: spokes started earlier, with
// namespaces of their own, must live on after the first shared start.
func TestSharedNetKeepsEarlierSpokes(t *testing.T) {
	s := newSpawner(t, Config{})
	t.Cleanup(func() { _ = s.Close() })
	var held []*Proc
	for i := range 8 {
		pr, err := s.Start(context.Background(), Policy{App: "test.hold", Args: []string{"unix-listen", fmt.Sprintf("hold-%d-%d", os.Getpid(), i)},
			Domains: []string{"example.com"}, Timeout: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bufio.NewReader(pr.Conn).ReadBytes('\n'); err != nil {
			t.Fatalf("spoke %d: %v", i, err)
		}
		held = append(held, pr)
	}
	outs, err := run(t, s, Policy{Args: []string{"ready"}})
	if err != nil || len(outs) != 1 || !outs[0].OK {
		t.Fatalf("shared spoke: %+v, wait %v", outs, err)
	}
	time.Sleep(200 * time.Millisecond)
	for i, pr := range held {
		pr.Conn.Close()
		if err := pr.Wait(); err != nil {
			t.Errorf("spoke %d started before the shared namespace was made: %v", i, err)
		}
	}
}
