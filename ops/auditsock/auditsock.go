// Package auditsock lets `secgpt audit` read the audit log of a running
// bot whose store is the bolt file. bbolt is single-writer and locks its
// file for the whole life of the process that opened it, so a second
// process cannot open it, not even read-only. The running bot therefore
// serves audit reads on a unix socket beside the file, and `secgpt audit`
// asks there when the file is locked.
//
// The socket is as private as the state file: mode 0600 inside the 0700
// state directory, and each connection's peer must run as the bot's own
// user (SO_PEERCRED). It answers only audit reads, one per connection.
package auditsock

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/secgpt-go/secgpt/core/state"
)

// maxRequest bounds one request line; a filter is a few hundred bytes.
const maxRequest = 16 << 10

// ioTimeout bounds a connection's whole exchange on the server side.
const ioTimeout = 30 * time.Second

// maxPathLen is the room for a unix socket path (sun_path) on Linux.
const maxPathLen = 107

// Path is the socket of the bolt file at storePath.
func Path(storePath string) string { return storePath + ".audit.sock" }

// ErrUntrusted is returned (wrapped) by Read when the socket's server runs
// as neither the state file's owner nor root.
var ErrUntrusted = errors.New("untrusted audit socket server")

type request struct {
	Filter state.AuditFilter `json:"filter"`
}

type response struct {
	Events []state.AuditEvent `json:"events"`
	Error  string             `json:"error,omitempty"`
}

// Listen opens the socket at path, replacing a stale one left by a bot
// that died; it fails if another live process serves there.
func Listen(path string) (net.Listener, error) {
	if len(path) > maxPathLen {
		return nil, fmt.Errorf("audit socket path %s is longer than %d bytes", path, maxPathLen)
	}
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("audit socket %s: another process is serving it", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale audit socket %s: %w", path, err)
	}
	ln, err := listenPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("listen on audit socket %s: %w", path, err)
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(true)
	}
	return ln, nil
}

// Serve answers audit reads from a on ln until ctx ends; it closes ln.
func Serve(ctx context.Context, ln net.Listener, a state.Audit, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("audit socket: accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			if err := serveConn(ctx, c, a); err != nil {
				log.Warn("audit socket", "err", err)
			}
		}()
	}
}

func serveConn(ctx context.Context, c net.Conn, a state.Audit) error {
	if err := checkPeer(c); err != nil {
		return err
	}
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	r := bufio.NewReader(&limited{r: c, n: maxRequest})
	line, err := r.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	var req request
	enc := json.NewEncoder(c)
	if err := json.Unmarshal(line, &req); err != nil {
		return enc.Encode(response{Error: "bad request: " + err.Error()})
	}
	evs, err := a.ReadAudit(ctx, req.Filter)
	if err != nil {
		return enc.Encode(response{Error: err.Error()})
	}
	if evs == nil {
		evs = []state.AuditEvent{}
	}
	return enc.Encode(response{Events: evs})
}

// Read asks the bot serving path for the events matching f. It believes
// only a server that runs as owner (the uid that owns the state file:
// FileOwner) or as root, by the socket's peer credentials: another local
// user who bound the path first would otherwise serve a forged log.
func Read(ctx context.Context, path string, owner int, f state.AuditFilter) ([]state.AuditEvent, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("audit socket %s: %w", path, err)
	}
	defer c.Close()
	uid, pid, err := peerUID(c)
	if err != nil {
		return nil, err
	}
	if uid != owner && uid != 0 {
		return nil, fmt.Errorf("audit socket %s is served by uid %d (pid %d), not by the state file's owner (uid %d) or root: %w", path, uid, pid, owner, ErrUntrusted)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	b, err := json.Marshal(request{Filter: f})
	if err != nil {
		return nil, fmt.Errorf("audit socket: encode request: %w", err)
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("audit socket %s: send: %w", path, err)
	}
	var resp response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("audit socket %s: %w", path, ctx.Err())
		}
		return nil, fmt.Errorf("audit socket %s: read answer: %w", path, err)
	}
	if resp.Error != "" {
		return nil, fmt.Errorf("audit socket %s: the bot answered: %s", path, resp.Error)
	}
	return resp.Events, nil
}

// limited is io.LimitReader that reports running out as an error, so an
// endless line is refused rather than read forever.
type limited struct {
	r interface{ Read([]byte) (int, error) }
	n int
}

func (l *limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("request too large")
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= n
	return n, err
}
