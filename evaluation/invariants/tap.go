package invariants

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
)

// tapSpawner starts real spokes through inner and puts a relay between the
// hub and each spoke's ISC socket that records every frame in both
// directions: what each app received is read off the wire, not taken from
// the hub's word.
type tapSpawner struct {
	inner hub.Spawner
	rec   *recorder
	// relays counts relay goroutines still running.
	relays sync.WaitGroup
}

// recordCap is how much of one frame is recorded (the relay forwards all of
// it); canaries and facts are searched in the recorded part.
const recordCap = 2 << 20

func (t *tapSpawner) Start(ctx context.Context, spec hub.SpokeSpec) (hub.Spoke, error) {
	proc, err := t.inner.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	fds, err := relayPair()
	if err != nil {
		proc.Kill("tap: socketpair failed")
		_ = proc.Wait()
		return nil, fmt.Errorf("tap spoke %s: socketpair: %w", spec.App, err)
	}
	hubEnd := os.NewFile(uintptr(fds[0]), "isc-hub-tap")
	relayEnd := os.NewFile(uintptr(fds[1]), "isc-relay")
	spoke := proc.Conn()
	app := spec.App
	pid := proc.PID()
	var once sync.Once
	closeAll := func() {
		once.Do(func() {
			_ = spoke.Close()
			_ = relayEnd.Close()
		})
	}
	t.relays.Add(2)
	go func() {
		defer t.relays.Done()
		defer closeAll()
		t.relay(spoke, relayEnd, evFrameOut, app, pid)
	}()
	go func() {
		defer t.relays.Done()
		defer closeAll()
		t.relay(relayEnd, spoke, evFrameIn, app, pid)
	}()
	return tapped{Spoke: proc, hubEnd: hubEnd}, nil
}

// tapped is a spoke whose hub end is the tap's relay. Kill and Wait close
// that end as well as the spoke's own, and the relay ends with them.
type tapped struct {
	hub.Spoke
	hubEnd io.ReadWriteCloser
}

func (t tapped) Conn() io.ReadWriteCloser { return t.hubEnd }

func (t tapped) Kill(reason string) {
	t.Spoke.Kill(reason)
	_ = t.hubEnd.Close()
}

func (t tapped) Wait() error {
	err := t.Spoke.Wait()
	_ = t.hubEnd.Close()
	return err
}

// Unwrap returns the tapped spoke, for its optional powers (a process's
// Rearm keeps warm spokes working behind the tap).
func (t tapped) Unwrap() hub.Spoke { return t.Spoke }

// relay copies length-prefixed frames from src to dst, recording each.
func (t *tapSpawner) relay(src io.Reader, dst io.Writer, dir evKind, app ids.AppID, pid int) {
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(src, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if _, err := dst.Write(hdr[:]); err != nil {
			return
		}
		if n > recordCap {
			// Oversized: the hub refuses it from the header; forward the rest
			// unrecorded until either side ends.
			_, _ = io.Copy(dst, src)
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(src, buf); err != nil {
			_, _ = dst.Write(buf)
			return
		}
		kind := frameKind(buf)
		t.rec.add(&event{kind: dir, app: app, pid: pid, frame: kind, text: string(buf)})
		if _, err := dst.Write(buf); err != nil {
			return
		}
	}
}

// frameKind reads the kind of a frame in the ISC layout, or "".
func frameKind(b []byte) isc.Kind {
	const prefix = `{"kind":"`
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return ""
	}
	for i := len(prefix); i < len(b) && i < len(prefix)+64; i++ {
		if b[i] == '"' {
			return isc.Kind(b[len(prefix):i])
		}
	}
	return ""
}

// Unwrap returns the spawner the tap wraps: the hub prepares spokes
// through it (hub.PreparingSpawner), and a prepared spoke is tapped like
// any other once a Start claims it.
func (t *tapSpawner) Unwrap() hub.Spawner { return t.inner }

var (
	_ hub.UnwrappingSpawner = (*tapSpawner)(nil)
	_ hub.UnwrappingSpoke   = tapped{}
)
