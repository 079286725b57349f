// Package launch is the contract between the two sides of the sandbox:
// what the hub's side (package sandbox) starts a spoke with and tells it,
// and what the spoke's side (sandbox/confine) reads and reports back. It
// holds the policy types, the descriptor numbers and environment a spoke
// is started with, the mode its command line ends in, the launch frame
// that carries the policy over the ISC socket, and the report a probe
// spoke writes for the doctor. It is data and framing only: it starts,
// confines and opens nothing.
//
// Only sandbox, sandbox/confine, sandbox/forkserver and tests import it;
// the rest of the tree uses the policy types through package sandbox.
package launch

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// ChildEnv is the one environment variable a spoke is started with; its
// presence tells the binary to run as a spoke (tests use it from TestMain).
const ChildEnv = "SECGPT_SPOKE"

// ISCFD is the file descriptor of the ISC socket in the spoke (and of the
// fork server's socket in the fork server).
const ISCFD = 3

// EgressFD is the file descriptor of the egress socket in a spoke whose
// policy declares network domains.
const EgressFD = 4

// IsChild reports whether this process was started as a spoke (or as the
// fork server, which is started the same way).
func IsChild() bool { return os.Getenv(ChildEnv) == "1" }

// The last command-line argument of a spoke says whether it is sandboxed;
// ArgForkServer makes the spoke's Enter run the fork server instead of
// returning.
const (
	ArgSandbox    = "sandbox"
	ArgOff        = "off"
	ArgForkServer = "forkserver"
)

// MaxFrame bounds the launch frame a spoke reads.
const MaxFrame = 1 << 20

// MaxMounts bounds the files and directories one policy may hand a spoke
// (each is one descriptor passed with the launch frame).
const MaxMounts = 32

// Frame is what the hub hands a spoke as its first ISC frame: the policy
// and how the sandbox around it was built. It holds no secret.
type Frame struct {
	Policy Policy `json:"policy"`
	// Sandbox says the child must confine itself in Enter.
	Sandbox bool `json:"sandbox"`
	// RlimitData is the RLIMIT_DATA bound when no cgroup bounds memory.
	RlimitData int64 `json:"rlimit_data,omitempty"`
	// Nproc is RLIMIT_NPROC: Limits.Procs, or a looser backstop when the
	// cgroup's pids.max binds first (its counter names the reason).
	Nproc uint64 `json:"nproc"`
	// Egress says fd 4 is the egress socket; otherwise Enter closes fd 4.
	Egress bool `json:"egress,omitempty"`
	// Probe makes Enter report what it applied on fd 3 and exit (doctor).
	Probe bool `json:"probe,omitempty"`
	// Mounts are Policy.Mounts as the spoke applies them; their
	// descriptors come with the frame.
	Mounts []FrameMount `json:"mounts,omitempty"`
}

// FrameMount is one Mount as the spoke applies it.
type FrameMount struct {
	// Source is the host path; the spoke bind-mounts it itself only when
	// the hub passed no descriptor (an unprivileged hub, whose uid the
	// spoke shares, so the path is reachable as it is).
	Source string `json:"source"`
	Target string `json:"target"`
	Write  bool   `json:"write,omitempty"`
	Dir    bool   `json:"dir,omitempty"`
	// FD is the index of this mount's descriptor among those passed with
	// the launch frame, or -1.
	FD int `json:"fd"`
	// Cover is the first ancestor of Target the spoke's user may not
	// search (a 0700 home): the spoke mounts an empty tmpfs over it and
	// makes only the path down to Target inside it.
	Cover string `json:"cover,omitempty"`
}

// Encode returns f as one frame: a 4-byte big-endian length, then JSON.
func Encode(f Frame) ([]byte, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("encode policy: %w", err)
	}
	frame := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(b)), uint32(len(b)))
	return append(frame, b...), nil
}

// Read reads one length-prefixed launch frame of at most MaxFrame bytes.
func Read(r io.Reader) (Frame, error) {
	var l Frame
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return l, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > MaxFrame {
		return l, fmt.Errorf("launch frame of %d bytes", size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return l, err
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return l, fmt.Errorf("decode policy: %w", err)
	}
	return l, nil
}
