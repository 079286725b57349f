//go:build linux

package forkserver

import (
	"fmt"
	"syscall"
	"time"
)

// maxConcurrentForks bounds the starts the fork server runs at once.
const maxConcurrentForks = 16

// forkMsgMax bounds one message on the fork server's socket (a request
// carries the command line and environment, a few hundred bytes).
const forkMsgMax = 64 << 10

// Request asks the fork server to start one spoke (Client.Spawn sets ID). The descriptors
// arrive with it: stdin, stdout and stderr (one pipe), the ISC socket, the
// egress socket and, when CgroupFD is set, the cgroup directory.
type Request struct {
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

// reply is the fork server's message to the client: a start's PID or
// error (ID set), or a reaped spoke's status (Exited set).
type reply struct {
	ID     uint64 `json:"id,omitempty"`
	PID    int    `json:"pid,omitempty"`
	Err    string `json:"err,omitempty"`
	Exited bool   `json:"exited,omitempty"`
	Status uint32 `json:"status,omitempty"` // syscall.WaitStatus
	UserNS int64  `json:"user_ns,omitempty"`
	SysNS  int64  `json:"sys_ns,omitempty"`
}

// Exit is how a spoke the fork server reaped ended when it did not exit
// cleanly: its wait status and CPU times.
type Exit struct {
	Status    syscall.WaitStatus
	User, Sys time.Duration
}

func (e *Exit) Error() string {
	switch {
	case e.Status.Signaled():
		return "signal: " + e.Status.Signal().String()
	case e.Status.Exited():
		return fmt.Sprintf("exit status %d", e.Status.ExitStatus())
	}
	return fmt.Sprintf("wait status %#x", uint32(e.Status))
}

// ProcAttr is how every spoke and the fork server itself start: in their
// own process group, killed with their parent. Package sandbox starts its
// unpooled, unconfined spokes with it too.
func ProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
