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
			cmd, err := forkStart(req, files, &shared)
			closeAll(files)
			reap.forked()
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
	// forks counts the starts made, failed ones included (a start that
	// fails after the fork leaves a child to reap); the loop, when it has
	// no child to wait for, sleeps until it grows.
	forks uint64
	more  *sync.Cond
	// watching holds the report of each started child; reaped holds
	// the exits of children reaped before watch was called for them
	// (and of a start that failed after its fork, whose PID nobody
	// learns: one entry per such failure).
	watching map[int]func(reply)
	reaped   map[int]reply
}

func newReaper() *reaper {
	r := &reaper{watching: map[int]func(reply){}, reaped: map[int]reply{}}
	r.more = sync.NewCond(&r.mu)
	go r.loop()
	return r
}

// forked says a start has forked (or tried to): the loop, if it found no
// child, waits again. It is called after the fork, so that a loop that
// saw no child before it is woken.
func (r *reaper) forked() {
	r.mu.Lock()
	r.forks++
	r.more.Broadcast()
	r.mu.Unlock()
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
	var seen uint64
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		pid, err := syscall.Wait4(-1, &ws, 0, &ru)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			// ECHILD: no child now. Any start made since the last look
			// may have forked one; otherwise wait for the next.
			r.mu.Lock()
			for r.forks == seen {
				r.more.Wait()
			}
			seen = r.forks
			r.mu.Unlock()
			continue
		}
		e := reply{PID: pid, Exited: true, Status: uint32(ws),
			UserNS: syscall.TimevalToNsec(ru.Utime), SysNS: syscall.TimevalToNsec(ru.Stime)}
		r.mu.Lock()
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
