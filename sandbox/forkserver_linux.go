package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// The fork server starts sandboxed spokes on the hub's behalf.
//
// Why: a spoke gets its own user namespace, and a process cloned into a new
// user namespace cannot share its parent's memory while the parent writes
// its uid map, so Go forks the whole hub for every spoke instead of using
// vfork. Forking copies the hub's page tables and marks its whole heap
// copy-on-write, and the hub then takes a page fault (and a TLB shootdown
// on every CPU) for each page it next writes. Measured on the 2-core test
// machine: 330 ms of the parent's CPU per spoke with a 300 MB heap, against
// 4 ms for the same clone without a user namespace. The hub's heap grows
// with the conversations it holds, so spawns got slower exactly when many
// were needed.
//
// The fork server is the same binary, started once by the hub with vfork
// (no user namespace for it, so the hub is not copied) and unconfined like
// the hub; its heap stays a few megabytes, so the fork it does per spoke is
// cheap. It holds nothing but its end of one socketpair with the hub: no
// key, no store, no app data. It starts exactly what the hub sends (binary,
// arguments, environment, namespaces, uid/gid maps, cgroup) with the
// descriptors the hub passes, reports the PID, and later the exit status and
// CPU times when it reaps the spoke. Every part of the sandbox that the hub
// applied before (cgroup placement, idmapped mounts, the launch frame, the
// egress proxy, timeouts, kills by process group) is still applied by the
// hub to the reported PID; a spoke never sees the fork server's socket
// (close-on-exec) and cannot tell who cloned it.
//
// If the fork server dies, its spokes die with it (their parent-death
// signal), the hub reports them as killed, and the next spawn starts a new
// fork server.

// maxConcurrentForks bounds the starts the fork server runs at once.
const maxConcurrentForks = 16

// forkMsgMax bounds one message on the fork server's socket (a request
// carries the command line and environment, a few hundred bytes).
const forkMsgMax = 64 << 10

// forkRequest asks the fork server to start one spoke. The descriptors
// arrive with it: stdin, stdout and stderr (one pipe), the ISC socket, the
// egress socket and, when CgroupFD is set, the cgroup directory.
type forkRequest struct {
	ID          uint64                 `json:"id"`
	Path        string                 `json:"path"`
	Args        []string               `json:"args"`
	Env         []string               `json:"env"`
	Cloneflags  uintptr                `json:"cloneflags"`
	UIDMappings []syscall.SysProcIDMap `json:"uid_mappings,omitempty"`
	GIDMappings []syscall.SysProcIDMap `json:"gid_mappings,omitempty"`
	Setgroups   bool                   `json:"setgroups"`
	UID         uint32                 `json:"uid"`
	GID         uint32                 `json:"gid"`
	NoSetGroups bool                   `json:"no_setgroups"`
	CgroupFD    bool                   `json:"cgroup_fd"`
	// SharedNet starts the spoke in the fork server's shared empty network
	// namespace (Cloneflags then lack CLONE_NEWNET); where that namespace
	// cannot be made, the spoke gets a new one of its own instead.
	SharedNet bool `json:"shared_net,omitempty"`
}

// forkReply is the fork server's message to the hub: a start's PID or
// error (ID set), or a reaped spoke's status (Exited set).
type forkReply struct {
	ID     uint64 `json:"id,omitempty"`
	PID    int    `json:"pid,omitempty"`
	Err    string `json:"err,omitempty"`
	Exited bool   `json:"exited,omitempty"`
	Status uint32 `json:"status,omitempty"` // syscall.WaitStatus
	UserNS int64  `json:"user_ns,omitempty"`
	SysNS  int64  `json:"sys_ns,omitempty"`
}

// serveForks is the fork server's main loop, on the socket at fd 3. It
// returns (the process exits) when the hub closes its end.
func serveForks() int {
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
	send := func(r forkReply) {
		b, _ := json.Marshal(r)
		wmu.Lock()
		defer wmu.Unlock()
		_, _ = conn.Write(b)
	}
	buf := make([]byte, forkMsgMax)
	oob := make([]byte, unix.CmsgSpace(8*4))
	sem := make(chan struct{}, maxConcurrentForks)
	var shared sharedNet
	for {
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 {
			return 0
		}
		files, ferr := receivedFiles(oob[:oobn])
		var req forkRequest
		if err := json.Unmarshal(buf[:n], &req); err != nil || ferr != nil {
			closeAll(files)
			send(forkReply{ID: req.ID, Err: fmt.Sprintf("bad request: %v", errors.Join(err, ferr))})
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
			if err != nil {
				send(forkReply{ID: req.ID, Err: err.Error()})
				return
			}
			// The exit report follows the start reply on the same ordered
			// socket, so the hub knows the PID before it can see it exit.
			send(forkReply{ID: req.ID, PID: cmd.Process.Pid})
			go func() {
				_ = cmd.Wait()
				r := forkReply{PID: cmd.Process.Pid, Exited: true}
				if ps := cmd.ProcessState; ps != nil {
					if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
						r.Status = uint32(ws)
					}
					r.UserNS, r.SysNS = int64(ps.UserTime()), int64(ps.SystemTime())
				}
				send(r)
			}()
		}()
	}
}

// forkStart starts the requested spoke with files as its descriptors.
func forkStart(req forkRequest, files []*os.File, shared *sharedNet) (*exec.Cmd, error) {
	want := 4
	if req.CgroupFD {
		want = 5
	}
	if len(files) != want {
		return nil, fmt.Errorf("got %d descriptors, want %d", len(files), want)
	}
	cmd := &exec.Cmd{Path: req.Path, Args: req.Args, Env: req.Env, Dir: "/",
		Stdin: files[0], Stdout: files[1], Stderr: files[1], ExtraFiles: files[2:4]}
	attr := procAttr()
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

// forkClient is the hub's side of one fork server.
type forkClient struct {
	conn *net.UnixConn
	proc *os.Process

	mu     sync.Mutex // guards the fields below
	next   uint64
	starts map[uint64]chan forkStarted
	exits  map[int]chan error
	err    error // set once the fork server is gone
	// closing: the Spawner was closed; the fork server ends when its last
	// spoke has been reaped (ending it earlier would kill them).
	closing bool
}

// forkStarted is a start's outcome as read delivers it.
type forkStarted struct {
	pid  int
	exit <-chan error
	err  error
}

// startForkServer starts the fork server: exe (this binary) with args and
// argForkServer, by vfork (no namespaces), in its own process group so that
// the terminal's signals reach only the hub.
func startForkServer(exe string, args, env []string, stderr io.Writer) (*forkClient, error) {
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
	cmd.SysProcAttr = procAttr()
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
	fc := &forkClient{conn: c.(*net.UnixConn), proc: cmd.Process, starts: map[uint64]chan forkStarted{}, exits: map[int]chan error{}}
	go fc.read()
	go func() { _ = cmd.Wait() }()
	return fc, nil
}

// read delivers the fork server's replies until it goes away, then fails
// every start and spoke still waiting on it.
func (fc *forkClient) read() {
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
		var r forkReply
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
					e = &spokeExit{ws: ws, user: time.Duration(r.UserNS), sys: time.Duration(r.SysNS)}
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
					ch <- forkStarted{err: errors.New(r.Err)}
					break
				}
				exit := make(chan error, 1)
				fc.exits[r.PID] = exit
				ch <- forkStarted{pid: r.PID, exit: exit}
			}
		}
		fc.mu.Unlock()
	}
}

// fail marks the fork server gone; its spokes died with it.
func (fc *forkClient) fail(err error) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.err == nil {
		fc.err = err
	}
	for id, ch := range fc.starts {
		ch <- forkStarted{err: err}
		delete(fc.starts, id)
	}
	for pid, ch := range fc.exits {
		ch <- err
		delete(fc.exits, pid)
	}
	_ = fc.conn.Close()
	_ = fc.proc.Kill()
}

// alive reports whether the fork server can still take requests.
func (fc *forkClient) alive() bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.err == nil
}

// start asks for one spoke; it returns the PID and a channel that receives
// the spoke's exit (nil or a *spokeExit) once it is reaped.
func (fc *forkClient) start(req forkRequest, fds []int) (int, <-chan error, error) {
	ch := make(chan forkStarted, 1)
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

func (fc *forkClient) forget(id uint64) {
	fc.mu.Lock()
	delete(fc.starts, id)
	fc.mu.Unlock()
}

// close ends the fork server once the spokes it started have been reaped.
func (fc *forkClient) close() {
	fc.mu.Lock()
	fc.closing = true
	idle := len(fc.exits) == 0 && len(fc.starts) == 0
	fc.mu.Unlock()
	if idle {
		fc.fail(errors.New("fork server closed"))
	}
}

// forkServer returns the running fork server, starting one if there is
// none or the last one died.
func (s *Spawner) forkServer() (*forkClient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.forks != nil && s.forks.alive() {
		return s.forks, nil
	}
	env := []string{ChildEnv + "=1"}
	if raceEnabled {
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	fc, err := startForkServer(s.cfg.Exe, s.cfg.Args, env, &spokeOutput{p: &Proc{app: "fork server"}, log: s.log})
	if err != nil {
		return nil, err
	}
	s.forks = fc
	return fc, nil
}

// forkStart starts a sandboxed spoke through the fork server, with the
// namespaces, maps and cgroup confine put in attr, and sets pr's PID and
// wait.
func (s *Spawner) forkStart(pr *Proc, attr *syscall.SysProcAttr, args, env []string, stdin *os.File, out io.Writer, isc, egress *os.File) error {
	fc, err := s.forkServer()
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("output pipe: %w", err)
	}
	defer w.Close()
	// The fork server runs cfg.Exe, so its /proc/self/exe is the spoke's
	// binary: exec reaches it without the spoke's uid searching the
	// directories on cfg.Exe's path (a root hub's spokes run as nobody).
	req := forkRequest{Path: "/proc/self/exe", Args: args, Env: env, Cloneflags: attr.Cloneflags,
		UIDMappings: attr.UidMappings, GIDMappings: attr.GidMappings, Setgroups: attr.GidMappingsEnableSetgroups,
		SharedNet: pr.sharedNet}
	if c := attr.Credential; c != nil {
		req.UID, req.GID, req.NoSetGroups = c.Uid, c.Gid, c.NoSetGroups
	}
	fds := []int{int(stdin.Fd()), int(w.Fd()), int(isc.Fd()), int(egress.Fd())}
	if attr.UseCgroupFD {
		req.CgroupFD = true
		fds = append(fds, attr.CgroupFD)
	}
	pid, exit, err := fc.start(req, fds)
	if err != nil {
		r.Close()
		return fmt.Errorf("fork server: %w", err)
	}
	copied := make(chan struct{})
	go copySpokeOutput(out, r, copied)
	pr.PID = pid
	pr.wait = func() error {
		err := <-exit
		// The output ends when the spoke's whole group has exited; a
		// descendant that left the group cannot hold the hub's reap.
		select {
		case <-copied:
		case <-time.After(time.Second):
		}
		r.Close()
		return err
	}
	return nil
}

// copySpokeOutput copies a spoke's stdout and stderr until every writer
// has closed the pipe.
func copySpokeOutput(out io.Writer, r io.Reader, done chan<- struct{}) {
	_, _ = io.Copy(out, r)
	close(done)
}
