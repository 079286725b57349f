//go:build linux

package forkserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/secgpt-go/secgpt/sandbox/launch"
)

// Serve is the fork server's main loop, on the socket at fd 3; the
// process exits with what it returns, once the hub closes its end.
func Serve() int {
	// Terminal signals are the hub's to handle; the fork server ends when
	// the hub does (its parent-death signal, or the socket's EOF).
	signal.Ignore(os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	syscall.CloseOnExec(launch.ISCFD)
	f := os.NewFile(launch.ISCFD, "forkserver")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "forkserver:", err)
		return 3
	}
	conn := c.(*net.UnixConn)
	var wmu sync.Mutex
	send := func(r reply) {
		b, _ := json.Marshal(r)
		wmu.Lock()
		defer wmu.Unlock()
		_, _ = conn.Write(b)
	}
	buf := make([]byte, forkMsgMax)
	oob := make([]byte, unix.CmsgSpace(8*4))
	sem := make(chan struct{}, maxConcurrentForks)
	var shared sharedNet
	reap := newReaper()
	for {
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 {
			return 0
		}
		files, ferr := receivedFiles(oob[:oobn])
		var req Request
		if err := json.Unmarshal(buf[:n], &req); err != nil || ferr != nil {
			closeAll(files)
			send(reply{ID: req.ID, Err: fmt.Sprintf("bad request: %v", errors.Join(err, ferr))})
			continue
		}
		// Starts run concurrently: a clone into seven new namespaces and
		// the uid/gid map writes hold Go's fork lock, but the wait for the
		// child's exec does not, and one slow start must not hold up the
		// queue behind it (measured: sequential starts capped a burst of
		// 300 conversations at 18 spokes/s).
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			done := reap.started()
			cmd, err := forkStart(req, files, &shared)
			closeAll(files)
			done(err == nil)
			if err != nil {
				send(reply{ID: req.ID, Err: err.Error()})
				return
			}
			// The exit report follows the start reply on the same ordered
			// socket, so the hub knows the PID before it can see it exit.
			pid := cmd.Process.Pid
			// The reaper waits for it; the handle (a pidfd) is not needed.
			_ = cmd.Process.Release()
			send(reply{ID: req.ID, PID: pid})
			reap.watch(pid, send)
		}()
	}
}

// reaper collects every spoke's exit with one wait4(-1) loop. A goroutine
// blocked in Wait per spoke held an OS thread each (wait4 is a blocking
// system call), with its stacks and their mappings, and every clone copies
// the fork server's page tables and mappings (a new user namespace rules
// out vfork): with 1000 spokes running the fork server had 1242 mappings
// and 15 MiB of anonymous memory, and a clone cost about 2 ms of CPU.
type reaper struct {
	mu sync.Mutex
	// live counts the children started and not yet reaped; the loop
	// sleeps while it is 0 (wait4 would fail with ECHILD at once).
	live int
	more *sync.Cond
	// watching holds the report of each started child; reaped holds
	// the exits of children reaped before watch was called for them.
	watching map[int]func(reply)
	reaped   map[int]reply
}

func newReaper() *reaper {
	r := &reaper{watching: map[int]func(reply){}, reaped: map[int]reply{}}
	r.more = sync.NewCond(&r.mu)
	go r.loop()
	return r
}

// started counts a child about to be started (before the fork, so that
// the loop is awake when it can be reaped); done(false) takes it back if
// the start failed.
func (r *reaper) started() (done func(ok bool)) {
	r.mu.Lock()
	r.live++
	r.more.Signal()
	r.mu.Unlock()
	return func(ok bool) {
		if !ok {
			r.mu.Lock()
			r.live--
			r.mu.Unlock()
		}
	}
}

// watch sends pid's exit report with send once it is reaped.
func (r *reaper) watch(pid int, send func(reply)) {
	r.mu.Lock()
	if e, ok := r.reaped[pid]; ok {
		delete(r.reaped, pid)
		r.mu.Unlock()
		send(e)
		return
	}
	r.watching[pid] = send
	r.mu.Unlock()
}

func (r *reaper) loop() {
	for {
		r.mu.Lock()
		for r.live == 0 {
			r.more.Wait()
		}
		r.mu.Unlock()
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		pid, err := syscall.Wait4(-1, &ws, 0, &ru)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			// ECHILD: a start counted but not yet forked; wait4 finds
			// it once it is.
			time.Sleep(time.Millisecond)
			continue
		}
		e := reply{PID: pid, Exited: true, Status: uint32(ws),
			UserNS: syscall.TimevalToNsec(ru.Utime), SysNS: syscall.TimevalToNsec(ru.Stime)}
		r.mu.Lock()
		r.live--
		send, ok := r.watching[pid]
		delete(r.watching, pid)
		if !ok {
			r.reaped[pid] = e
		}
		r.mu.Unlock()
		if ok {
			send(e)
		}
	}
}

// forkStart starts the requested spoke with files as its descriptors.
func forkStart(req Request, files []*os.File, shared *sharedNet) (*exec.Cmd, error) {
	want := 4
	if req.CgroupFD {
		want = 5
	}
	if len(files) != want {
		return nil, fmt.Errorf("got %d descriptors, want %d", len(files), want)
	}
	cmd := &exec.Cmd{Path: req.Path, Args: req.Args, Env: req.Env, Dir: "/",
		Stdin: files[0], Stdout: files[1], Stderr: files[1], ExtraFiles: files[2:4]}
	attr := ProcAttr()
	attr.Cloneflags = req.Cloneflags
	attr.UidMappings, attr.GidMappings = req.UIDMappings, req.GIDMappings
	attr.GidMappingsEnableSetgroups = req.Setgroups
	attr.Credential = &syscall.Credential{Uid: req.UID, Gid: req.GID, NoSetGroups: req.NoSetGroups}
	if req.CgroupFD {
		attr.UseCgroupFD, attr.CgroupFD = true, int(files[4].Fd())
	}
	cmd.SysProcAttr = attr
	if req.SharedNet {
		started := false
		if err := shared.start(func() error { started = true; return cmd.Start() }); started {
			if err != nil {
				return nil, err
			}
			return cmd, nil
		}
		// No shared namespace here (an unprivileged fork server may not
		// make one): a namespace of the spoke's own is never weaker.
		attr.Cloneflags |= syscall.CLONE_NEWNET
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// receivedFiles returns the descriptors passed with a message (received
// close-on-exec, so a concurrent start cannot leak them into its spoke).
func receivedFiles(oob []byte) ([]*os.File, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "passed"))
		}
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}
