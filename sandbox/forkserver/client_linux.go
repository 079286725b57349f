//go:build linux

package forkserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/secgpt-go/secgpt/sandbox/launch"
)

// Client is the hub's side of one fork server. Its methods are safe for
// concurrent use.
type Client struct {
	conn *net.UnixConn
	proc *os.Process

	mu     sync.Mutex // guards the fields below
	next   uint64
	starts map[uint64]chan started
	exits  map[int]chan error
	err    error // set once the fork server is gone
	// closing: the Spawner was closed; the fork server ends when its last
	// spoke has been reaped (ending it earlier would kill them).
	closing bool
}

// started is a start's outcome as read delivers it.
type started struct {
	pid  int
	exit <-chan error
	err  error
}

// Start starts a fork server: exe (the spoke binary) with args and
// launch.ArgForkServer, by vfork (no namespaces), in its own process group so that
// the terminal's signals reach only the hub.
func Start(exe string, args, env []string, stderr io.Writer) (*Client, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	hubEnd := os.NewFile(uintptr(fds[0]), "forkserver-hub")
	serverEnd := os.NewFile(uintptr(fds[1]), "forkserver")
	defer serverEnd.Close()
	cmd := exec.Command(exe, append(append([]string{}, args...), launch.ArgForkServer)...)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.ExtraFiles = []*os.File{serverEnd}
	cmd.SysProcAttr = ProcAttr()
	if err := cmd.Start(); err != nil {
		hubEnd.Close()
		return nil, fmt.Errorf("start fork server: %w", err)
	}
	c, err := net.FileConn(hubEnd)
	hubEnd.Close()
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("fork server socket: %w", err)
	}
	fc := &Client{conn: c.(*net.UnixConn), proc: cmd.Process, starts: map[uint64]chan started{}, exits: map[int]chan error{}}
	go fc.read()
	go func() { _ = cmd.Wait() }()
	return fc, nil
}

// read delivers the fork server's replies until it goes away, then fails
// every start and spoke still waiting on it.
func (fc *Client) read() {
	buf := make([]byte, forkMsgMax)
	for {
		n, err := fc.conn.Read(buf)
		if err != nil || n == 0 {
			if err == nil {
				err = io.EOF
			}
			fc.fail(fmt.Errorf("fork server gone: %w", err))
			return
		}
		var r reply
		if err := json.Unmarshal(buf[:n], &r); err != nil {
			fc.fail(fmt.Errorf("fork server: bad reply: %w", err))
			return
		}
		fc.mu.Lock()
		switch {
		case r.Exited:
			if ch, ok := fc.exits[r.PID]; ok {
				delete(fc.exits, r.PID)
				ws := syscall.WaitStatus(r.Status)
				var e error
				if !ws.Exited() || ws.ExitStatus() != 0 {
					e = &Exit{Status: ws, User: time.Duration(r.UserNS), Sys: time.Duration(r.SysNS)}
				}
				ch <- e
			}
			if fc.closing && len(fc.exits) == 0 && len(fc.starts) == 0 {
				fc.mu.Unlock()
				fc.fail(errors.New("fork server closed"))
				return
			}
		default:
			if ch, ok := fc.starts[r.ID]; ok {
				delete(fc.starts, r.ID)
				if r.Err != "" {
					ch <- started{err: errors.New(r.Err)}
					break
				}
				exit := make(chan error, 1)
				fc.exits[r.PID] = exit
				ch <- started{pid: r.PID, exit: exit}
			}
		}
		fc.mu.Unlock()
	}
}

// fail marks the fork server gone; its spokes died with it.
func (fc *Client) fail(err error) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.err == nil {
		fc.err = err
	}
	for id, ch := range fc.starts {
		ch <- started{err: err}
		delete(fc.starts, id)
	}
	for pid, ch := range fc.exits {
		ch <- err
		delete(fc.exits, pid)
	}
	_ = fc.conn.Close()
	_ = fc.proc.Kill()
}

// Alive reports whether the fork server can still take requests.
func (fc *Client) Alive() bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.err == nil
}

// Spawn asks for one spoke, started with fds (stdin, the output pipe, the
// ISC and egress sockets and, with req.CgroupFD, the cgroup directory). It
// returns the PID and a channel that receives the spoke's exit once it is
// reaped: nil, an *Exit, or an error when the fork server went away.
func (fc *Client) Spawn(req Request, fds []int) (int, <-chan error, error) {
	ch := make(chan started, 1)
	fc.mu.Lock()
	if fc.err != nil {
		err := fc.err
		fc.mu.Unlock()
		return 0, nil, err
	}
	fc.next++
	req.ID = fc.next
	fc.starts[req.ID] = ch
	fc.mu.Unlock()
	b, err := json.Marshal(req)
	if err != nil {
		fc.forget(req.ID)
		return 0, nil, fmt.Errorf("encode fork request: %w", err)
	}
	if _, _, err := fc.conn.WriteMsgUnix(b, unix.UnixRights(fds...), nil); err != nil {
		fc.forget(req.ID)
		fc.fail(fmt.Errorf("fork server: send: %w", err))
		return 0, nil, fmt.Errorf("fork server: send: %w", err)
	}
	r := <-ch
	if r.err != nil {
		return 0, nil, r.err
	}
	return r.pid, r.exit, nil
}

func (fc *Client) forget(id uint64) {
	fc.mu.Lock()
	delete(fc.starts, id)
	fc.mu.Unlock()
}

// Close ends the fork server once the spokes it started have been reaped.
func (fc *Client) Close() {
	fc.mu.Lock()
	fc.closing = true
	idle := len(fc.exits) == 0 && len(fc.starts) == 0
	fc.mu.Unlock()
	if idle {
		fc.fail(errors.New("fork server closed"))
	}
}

// PID is the fork server's process ID.
func (fc *Client) PID() int { return fc.proc.Pid }
