//go:build linux

package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/secgpt-go/secgpt/sandbox/confine"
)

// TestMain runs the hostile spokes: when this test binary is started as a
// spoke, it enters the sandbox like the real binary does, performs the
// action named in Policy.Args[0] and reports the outcome on fd 3.
func TestMain(m *testing.M) {
	if confine.IsChild() {
		os.Exit(spokeMain())
	}
	os.Exit(m.Run())
}

// outcome is one line a test spoke writes on fd 3. OK means the action
// succeeded, which for a hostile action is a sandbox failure.
type outcome struct {
	OK     bool   `json:"ok"`
	Err    string `json:"err,omitempty"`
	Detail string `json:"detail,omitempty"`
}

func spokeMain() int {
	pol, conn, err := confine.Enter()
	if err != nil {
		fmt.Fprintln(os.Stderr, "spoke:", err)
		return 3
	}
	if len(pol.Args) == 0 {
		return 4
	}
	report := func(o outcome) {
		b, _ := json.Marshal(o)
		_, _ = conn.Write(append(b, '\n'))
	}
	act, ok := actions[pol.Args[0]]
	if !ok {
		report(outcome{Err: "unknown action " + pol.Args[0]})
		return 0
	}
	report(act(conn, pol.Args[1:]))
	return 0
}

// result turns an error into an outcome.
func result(err error, detail string) outcome {
	if err != nil {
		return outcome{Err: err.Error(), Detail: detail}
	}
	return outcome{OK: true, Detail: detail}
}

// actions are what a test spoke can be told to do.
var actions = map[string]func(conn *os.File, args []string) outcome{
	"ready": func(*os.File, []string) outcome { return outcome{OK: true} },
	"gomaxprocs": func(*os.File, []string) outcome {
		return outcome{OK: true, Detail: strconv.Itoa(runtime.GOMAXPROCS(0))}
	},
	"exec": func(*os.File, []string) outcome {
		// Both the os/exec path and a bare execve, which would replace
		// this process if it succeeded.
		err1 := exec.Command("/bin/sh", "-c", "true").Run()
		err2 := unix.Exec("/bin/sh", []string{"sh", "-c", "true"}, nil)
		if err1 == nil || err2 == nil {
			return outcome{OK: true}
		}
		return outcome{Err: fmt.Sprintf("os/exec: %v; execve: %v", err1, err2)}
	},
	"read": func(_ *os.File, args []string) outcome {
		b, err := os.ReadFile(args[0])
		return result(err, fmt.Sprintf("%d bytes", len(b)))
	},
	"write": func(_ *os.File, args []string) outcome {
		return result(os.WriteFile(args[0], []byte(args[1]), 0o600), "")
	},
	"run": func(_ *os.File, args []string) outcome {
		// An external program, as an MCP server would be run: its output
		// is the detail.
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = []string{"HOME=/tmp", "PATH=/usr/bin:/bin", "TMPDIR=/tmp"}
		out, err := cmd.CombinedOutput()
		return result(err, strings.TrimSpace(string(out)))
	},
	"stat": func(_ *os.File, args []string) outcome {
		_, err := os.Stat(args[0])
		return result(err, "")
	},
	"tmp": func(*os.File, []string) outcome {
		p := filepath.Join(os.TempDir(), "note")
		if err := os.WriteFile(p, []byte("spoke"), 0o600); err != nil {
			return result(err, "write")
		}
		b, err := os.ReadFile(p)
		return result(err, string(b))
	},
	"bigfile": func(*os.File, []string) outcome {
		f, err := os.Create(filepath.Join(os.TempDir(), "big"))
		if err != nil {
			return result(err, "create")
		}
		defer f.Close()
		buf := make([]byte, 1<<20)
		var n int64
		for n < 2<<30 {
			w, err := f.Write(buf)
			n += int64(w)
			if err != nil {
				return result(err, fmt.Sprintf("wrote %d MiB", n>>20))
			}
		}
		return result(nil, "wrote 2 GiB")
	},
	"alloc": func(*os.File, []string) outcome {
		b := make([]byte, 4<<30)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		return result(nil, fmt.Sprintf("touched %d GiB", len(b)>>30))
	},
	"fork": func(*os.File, []string) outcome {
		_, _, e1 := unix.RawSyscall(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0)
		_, _, e2 := unix.RawSyscall(unix.SYS_FORK, 0, 0, 0)
		if e1 == 0 || e2 == 0 {
			return outcome{OK: true, Detail: "a fork succeeded"}
		}
		return outcome{Err: fmt.Sprintf("clone: %v; fork: %v", e1, e2)}
	},
	"threads": func(*os.File, []string) outcome {
		// Each goroutine pins an OS thread and holds it: a thread bomb.
		const want = 1000
		var wg sync.WaitGroup
		block := make(chan struct{})
		for range want {
			wg.Add(1)
			go func() {
				runtime.LockOSThread()
				wg.Done()
				<-block
			}()
		}
		wg.Wait()
		return outcome{OK: true, Detail: fmt.Sprintf("%d threads", want)}
	},
	"cpu": func(*os.File, []string) outcome {
		x := 0
		for {
			x++
		}
	},
	"fds": func(*os.File, []string) outcome {
		// The sockets a spoke holds besides its own two (fds 3 and 4):
		// the fork server's socket must not be among them. /proc/self/fd
		// is not readable in the sandbox, so every descriptor is probed.
		var extra []string
		for fd := EgressFD + 1; fd < 1024; fd++ {
			var st unix.Stat_t
			if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFSOCK {
				extra = append(extra, strconv.Itoa(fd))
			}
		}
		return outcome{OK: len(extra) == 0, Detail: strings.Join(extra, ", ")}
	},
	"hang": func(conn *os.File, _ []string) outcome {
		var b [1]byte
		_, err := conn.Read(b[:]) // the hub never writes
		return result(err, "read returned")
	},
	"tcp": func(_ *os.File, args []string) outcome {
		c, err := net.Dial("tcp", args[0])
		if err == nil {
			c.Close()
		}
		return result(err, "")
	},
	"http": func(_ *os.File, args []string) outcome {
		resp, err := confine.EgressClient().Get(args[0])
		if err != nil {
			return result(err, "")
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return outcome{Err: resp.Status, Detail: string(body)}
		}
		return outcome{OK: true, Detail: string(body)}
	},
	"ptrace": func(_ *os.File, args []string) outcome {
		pid, _ := strconv.Atoi(args[0])
		return result(unix.PtraceAttach(pid), "")
	},
	"vmread": func(_ *os.File, args []string) outcome {
		pid, _ := strconv.Atoi(args[0])
		var buf [8]byte
		var x int
		local := []unix.Iovec{{Base: &buf[0], Len: 8}}
		remote := []unix.RemoteIovec{{Base: uintptr(unsafe.Pointer(&x)), Len: 8}}
		_, err := unix.ProcessVMReadv(pid, local, remote, 0)
		return result(err, "")
	},
	"kill": func(_ *os.File, args []string) outcome {
		pid, _ := strconv.Atoi(args[0])
		return result(unix.Kill(pid, 0), "")
	},
	"unshare": func(*os.File, []string) outcome {
		return result(unix.Unshare(unix.CLONE_NEWUSER|unix.CLONE_NEWNET), "")
	},
	"socket": func(*os.File, []string) outcome {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err == nil {
			unix.Close(fd)
		}
		return result(err, "")
	},
}
