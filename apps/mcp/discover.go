package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"

	"golang.org/x/net/publicsuffix"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/schema"
)

// maxDiscoverFrames bounds the frames a describing spoke may send.
const maxDiscoverFrames = 32

// Spoke is a running spoke as Discover uses it. The hub's spokes
// (hub.Spoke) are Spokes: this package runs in spokes and takes no part
// of the hub, so it names only what it calls.
type Spoke interface {
	// Conn is the hub's end of the spoke's ISC connection.
	Conn() io.ReadWriteCloser
	// Kill ends the spoke and records reason, unless one was recorded
	// already; it does not block.
	Kill(reason string)
	// KillReason is the first reason recorded, or "".
	KillReason() string
	// Wait blocks until the spoke has ended; nil means cleanly.
	Wait() error
}

// Needs is what a server's spoke needs of the sandbox, decided by the
// server's settings alone.
type Needs struct {
	// App is the server's app ID.
	App ids.AppID
	// Exec lets the spoke run programs: a stdio server is one.
	Exec bool
	// Domains and Ports are what its egress may reach (Domains, Ports).
	Domains []string
	Ports   []int
}

// NeedsOf is what s's spokes need of the sandbox.
func NeedsOf(s Server) Needs {
	return Needs{App: s.ID(), Exec: s.Command != "", Domains: Domains(s), Ports: Ports(s)}
}

// Starter starts the spoke that lists a server's tools: as the caller
// starts any invocation of the app (its bounds, its mounts, a throwaway
// data directory), plus what need says. It may block while the spoke
// starts, and fails without leaving anything running.
type Starter func(ctx context.Context, need Needs) (Spoke, error)

// Discover learns a server's tools: it runs the server once, in a spoke
// started by start, asks for the tool list, and returns s with Tools and
// Instructions filled in. The spoke gets no model and no state: requests
// for them are refused.
func Discover(ctx context.Context, start Starter, s Server) (Server, error) {
	return DiscoverWith(ctx, start, s, nil)
}

// DiscoverWith is Discover for a server that needs a user's token even to
// list its tools (oauth): cred is the operator's own, for this one
// listing, never a chat user's.
func DiscoverWith(ctx context.Context, start Starter, s Server, cred *isc.Credential) (Server, error) {
	if err := s.Check(); err != nil {
		return s, err
	}
	s.Tools, s.Instructions = nil, ""
	cfg, err := json.Marshal(s)
	if err != nil {
		return s, err
	}
	proc, err := start(ctx, NeedsOf(s))
	if err != nil {
		return s, fmt.Errorf("discover %s: %w", s.ID(), err)
	}
	stop := context.AfterFunc(ctx, func() { proc.Kill("discovery cancelled") })
	defer stop()
	sp, err := describeOver(isc.NewConn(proc.Conn(), isc.HubSide, 4<<20), s, cfg, cred)
	proc.Kill("discovery done")
	werr := proc.Wait()
	if err != nil {
		if r := proc.KillReason(); r != "" && r != "discovery done" {
			err = fmt.Errorf("%w (%s)", err, r)
		} else if werr != nil {
			err = fmt.Errorf("%w (%v)", err, werr)
		}
		return s, fmt.Errorf("discover %s: %w", s.ID(), err)
	}
	s.Tools = sp.Functions
	s.Instructions = sp.Annotation
	return s, nil
}

// describeOver speaks the hub's side of a describe task.
func describeOver(conn *isc.Conn, s Server, cfg json.RawMessage, cred *isc.Credential) (apps.Spec, error) {
	var sp apps.Spec
	for i := 0; i < maxDiscoverFrames; i++ {
		f, err := conn.Recv()
		if err != nil {
			return sp, fmt.Errorf("spoke: %w", err)
		}
		var kind isc.Kind
		var body any
		switch f.Kind {
		case isc.KindReady:
			kind, body = isc.KindInit, isc.Init{App: string(s.ID()), Task: isc.Task{Instruction: "describe", Function: apps.DescribeFunction}, Config: cfg, MaxSteps: 1, Credential: cred}
		case isc.KindFinal:
			var fin isc.Final
			if err := f.Decode(&fin); err != nil {
				return sp, err
			}
			if err := json.Unmarshal(fin.Result, &sp); err != nil {
				return sp, fmt.Errorf("spec: %w", err)
			}
			if sp.ID != s.ID() {
				return sp, fmt.Errorf("spec names %q", sp.ID)
			}
			// What the spoke built from the server's answer is checked
			// again here, outside the sandbox: a compromised spoke could
			// have written anything.
			fns, err := recheck(s, sp.Functions)
			if err != nil {
				return sp, err
			}
			sp.Functions = fns
			sp.Annotation = clean(sp.Annotation, maxDescription)
			return sp, nil
		case isc.KindSpokeError:
			var e isc.ErrorBody
			_ = f.Decode(&e)
			return sp, errors.New(clean(e.Message, 500))
		case isc.KindLog:
			continue
		case isc.KindStateGet:
			kind, body = isc.KindStateValue, isc.StateValue{}
		case isc.KindMemoryRead:
			kind, body = isc.KindMemory, isc.Memory{Entries: []isc.MemoryEntry{}}
		default:
			kind, body = isc.KindHubError, isc.ErrorBody{Message: "not available while the server's tools are listed"}
		}
		if err := conn.Send(kind, body); err != nil {
			return sp, err
		}
	}
	return sp, fmt.Errorf("more than %d frames while listing tools", maxDiscoverFrames)
}

// recheck bounds and validates functions that came out of a spoke.
func recheck(s Server, fns []apps.Function) ([]apps.Function, error) {
	if len(fns) > maxTools {
		return nil, fmt.Errorf("%d tools, at most %d", len(fns), maxTools)
	}
	seen := map[string]bool{}
	for i := range fns {
		f := &fns[i]
		if seen[f.Name] || f.Name != functionName(s.Name, toolName(s.Name, *f)) {
			return nil, fmt.Errorf("function %q does not belong to server %s", f.Name, s.Name)
		}
		seen[f.Name] = true
		for _, sc := range []json.RawMessage{f.Request, f.Response} {
			if err := compiles(sc); err != nil {
				return nil, fmt.Errorf("function %s: %w", f.Name, err)
			}
		}
		f.Description = clean(f.Description, maxDescription)
		f.Hints = clean(f.Hints, 200)
		// A tool's result is always the text envelope, whatever the spoke says.
		f.TextResult = true
		// Effect is the operator's: recomputed from trust, never the spoke's.
		if !s.TrustAnnotations || !f.Effect.Valid() {
			f.Effect = DefaultEffect
		}
	}
	return fns, nil
}

func compiles(raw json.RawMessage) error {
	_, err := schema.Compile(raw)
	return err
}

// Ports are the TCP ports besides 443 a server's spoke may reach: a remote
// server's URL port (80 for plain http), so the egress proxy, which allows
// only 443 and declared ports, lets its client through to that server.
func Ports(s Server) []int {
	if s.URL == "" {
		return nil
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return nil
	}
	port := u.Port()
	if port == "" && u.Scheme == "http" {
		port = "80"
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 || n > 65535 || n == 443 {
		return nil
	}
	return []int{n}
}

// Domains are the registrable domains a server's spoke may reach: the
// declared ones and, for a remote server, its URL's.
func Domains(s Server) []string {
	out := slices.Clone(s.Domains)
	if s.URL == "" {
		return out
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return out
	}
	if net.ParseIP(u.Hostname()) != nil {
		// An address is never a domain: only private_networks can open it.
		return out
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(u.Hostname())
	if err != nil {
		d = u.Hostname()
	}
	if !slices.Contains(out, d) {
		out = append(out, d)
	}
	return out
}
