// Package confine is the spoke's side of the sandbox: what runs inside the
// child process, before any app code, as gVisor's runsc/boot runs inside
// the sandbox that runsc/sandbox builds. Enter reads the hub's launch frame
// on the ISC socket and confines the process itself: the read-only mount
// view, the private /tmp and the policy's mounts (mounts_linux.go),
// rlimits, cleared capabilities, Landlock, and last the deny-by-default
// seccomp filter, whose allow-list is commented data (filter_linux.go).
// EgressClient is the spoke's one way out, through the hub's egress proxy
// on fd 4. The hub's side (namespaces, uid maps, cgroups, the pool, exit
// reasons, the proxy) is package sandbox; the two share sandbox/launch.
//
// Only the binaries' spoke entries (cmd/secgpt, cmd/secgpt-spoke and
// cmd/secgpt-spoke-local, which hand EnterSpoke to core/spoke.Run), sandbox
// (for LandlockABI in its host probe), core/hubtest and tests import it.
package confine

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/secgpt-go/secgpt/sandbox/forkserver"
	"github.com/secgpt-go/secgpt/sandbox/launch"
)

// IsChild reports whether this process was started as a spoke: a spoke
// binary's main calls Enter (or EnterSpoke) first thing when it is true.
func IsChild() bool { return launch.IsChild() }

// Enter is called first thing in a spoke. It waits for the hub's launch
// frame on the ISC socket, applies the in-process confinement (mount view,
// rlimits, dropped capabilities, no_new_privs, Landlock, and the seccomp
// filter last) and returns the policy and the ISC socket. If it returns an
// error the spoke must exit without running app code.
//
// Started as the fork server (see sandbox/forkserver), Enter serves the
// hub's spawn requests and exits the process instead of returning: the
// fork server runs from the spoke binary.
func Enter() (launch.Policy, *os.File, error) {
	if len(os.Args) > 1 && os.Args[len(os.Args)-1] == launch.ArgForkServer {
		os.Exit(forkserver.Serve())
	}
	f := os.NewFile(launch.ISCFD, "isc")
	if f == nil {
		return launch.Policy{}, nil, errors.New("sandbox: no ISC socket on fd 3")
	}
	// The policy-independent part of the sandbox is done while the hub
	// has not sent the policy yet (for a pooled spoke: before it is needed).
	var prep *prepared
	sandboxed := len(os.Args) > 1 && os.Args[len(os.Args)-1] == launch.ArgSandbox
	if sandboxed {
		prep = prepare()
	}
	l, fds, err := readLaunchFDs(f)
	if err != nil {
		return launch.Policy{}, nil, fmt.Errorf("sandbox: read launch: %w", err)
	}
	if prep != nil {
		prep.fds = fds
	} else {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
	}
	if l.Sandbox != sandboxed {
		return launch.Policy{}, nil, errors.New("sandbox: launch frame and command line disagree about the sandbox")
	}
	if !l.Egress {
		_ = unix.Close(launch.EgressFD) // no domains: EgressClient refuses everything
	}
	if err := keepInherited(); err != nil {
		return launch.Policy{}, nil, fmt.Errorf("sandbox: keep descriptors from programs the spoke starts: %w", err)
	}
	if !l.Sandbox {
		return l.Policy, f, nil
	}
	rep, err := confineSelf(l, prep)
	if l.Probe {
		reportProbe(f, rep, err)
	}
	if err != nil {
		return l.Policy, nil, err
	}
	return l.Policy, f, nil
}
