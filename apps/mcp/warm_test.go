//go:build linux

package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/vocab"
	"github.com/secgpt-go/secgpt/sandbox/hubspawn"
)

// spokePIDs records, per user, the host PID of the spoke each invocation
// ran in (started or reused), from the hub's trace.
type spokePIDs struct {
	mu    sync.Mutex // guards the fields below
	last  map[ids.UserID]int
	ends  map[int]string // warm spoke PID → why it ended
	reuse int
}

func (s *spokePIDs) trace(e hub.TraceEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch e.Type {
	case vocab.TraceSpokeStart, vocab.TraceSpokeReuse:
		pid, _ := strconv.Atoi(e.Detail)
		s.last[e.User] = pid
		if e.Type == vocab.TraceSpokeReuse {
			s.reuse++
		}
	case vocab.TraceWarmEnd:
		p, reason, _ := strings.Cut(e.Detail, " ")
		pid, _ := strconv.Atoi(p)
		s.ends[pid] = reason
	}
}

func (s *spokePIDs) of(u ids.UserID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[u]
}

// endReason waits a little for the trace of pid's end (it follows the
// reaping of the process) and returns why it ended.
func (s *spokePIDs) endReason(pid int) string {
	for range 60 {
		s.mu.Lock()
		r, ok := s.ends[pid]
		s.mu.Unlock()
		if ok {
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
	return ""
}

// gone waits until no process has pid (the spoke was killed and reaped).
func gone(t *testing.T, pid int, within time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// hostileHub is a hub with the hostile Python server installed, spokes in
// the real sandbox, and warm spokes kept for idle.
func hostileHub(t *testing.T, idle, timeout time.Duration, trace func(hub.TraceEvent)) (*hub.Hub, Server) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 missing under CI")
		}
		t.Skip("python3 not installed")
	}
	script, err := filepath.Abs("testdata/hostile_server.py")
	if err != nil {
		t.Fatal(err)
	}
	// The script's directory, read-only.
	return serverHub(t, Server{Name: "hostile", Command: "/usr/bin/python3", Args: []string{script}}, filepath.Dir(script), idle, timeout, trace)
}

// serverHub is a hub with server s installed (its files under dir, read
// only), spokes in the real sandbox, and warm spokes kept for idle.
func serverHub(t *testing.T, s Server, dir string, idle, timeout time.Duration, trace func(hub.TraceEvent)) (*hub.Hub, Server) {
	t.Helper()
	in := install(t, s, dir)
	return in.hub(t, idle, timeout, trace), in.s
}

// installed is server s discovered in a sandboxed harness (its files under
// h.npm, read only) and installed alone in a catalog, ready for hubs.
type installed struct {
	h   *harness
	s   Server
	raw json.RawMessage
	cat *apps.Catalog
	// planner is the hub's model; nil means stepPlanner.
	planner llm.Model
}

// install discovers s's tools in a new harness and installs it in a catalog
// of its own, like cli/ does.
func install(t testing.TB, s Server, dir string) *installed {
	t.Helper()
	h := newHarness(t)
	h.npm = dir
	s = h.discover(s)
	raw, _ := json.Marshal(s)
	a, err := New(s.ID(), raw)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := apps.NewCatalog(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.Add(a); err != nil {
		t.Fatal(err)
	}
	return &installed{h: h, s: s, raw: raw, cat: cat}
}

// hub is a hub over in's catalog, closed when t ends: every spoke runs in
// the real sandbox with the user's own data directory (the hub's
// SpokePolicy hook), warm spokes are kept for idle and spokes time out
// after timeout (0: the hub's default).
func (in *installed) hub(t testing.TB, idle, timeout time.Duration, trace func(hub.TraceEvent)) *hub.Hub {
	t.Helper()
	o := in.options(idle, timeout, trace)
	o.Store = hubtest.Store(t)
	hb, err := hub.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hb.Close() })
	return hb
}

// options are the options of a hub over in's catalog, without a store.
func (in *installed) options(idle, timeout time.Duration, trace func(hub.TraceEvent)) hub.Options {
	var model llm.Model = stepPlanner{app: in.s.ID()}
	if in.planner != nil {
		model = in.planner
	}
	return hub.Options{
		Catalog: in.cat, Model: model, Spawner: hubspawn.New(in.h.sp),
		AppConfig: map[ids.AppID]json.RawMessage{in.s.ID(): in.raw}, PromptTimeout: 10 * time.Second,
		SpokeTimeout: timeout, WarmIdle: idle, Trace: trace,
		Limits: hub.SpokeLimits{Memory: 1 << 30, OpenFiles: 256, Procs: 128},
		SpokePolicy: func(_ context.Context, p *hub.SpokeSpec) error {
			ms, err := testMounts(in.s, []hub.Mount{{Source: in.h.npm}}, in.h.data, p.User)
			p.Mounts = ms
			return err
		},
	}
}

var whoamiRE = regexp.MustCompile(`pid (\d+) calls (\d+)`)

// whoami asks the server in c's user's spoke which process it is and how
// many calls it has served.
func whoami(t *testing.T, c *scripted.Conversation) (serverPID, calls int) {
	t.Helper()
	reply := c.Send(context.Background(), `hostile__whoami {}`)
	m := whoamiRE.FindStringSubmatch(reply)
	if m == nil {
		t.Fatalf("whoami: reply %q", reply)
	}
	serverPID, _ = strconv.Atoi(m[1])
	calls, _ = strconv.Atoi(m[2])
	return serverPID, calls
}

// TestWarmSpokes holds the warm-spoke rules with the real sandbox and a
// real server process: a second invocation of the same (user, app) reuses
// the same spoke and server, also after an idle gap longer than the
// wall-clock bound; another user gets a process of their own; a revoke,
// a denied run, a wall-clock kill and the idle timeout each end the spoke
// (the process is gone), and the next invocation starts a fresh one.
func TestWarmSpokes(t *testing.T) {
	const (
		timeout = 5 * time.Second
		idle    = timeout + 3*time.Second
	)
	pids := &spokePIDs{last: map[ids.UserID]int{}, ends: map[int]string{}}
	hb, s := hostileHub(t, idle, timeout, pids.trace)
	ctx := context.Background()
	alice := &scripted.Conversation{A: hb, User: "test:alice", Policy: scripted.AllowPlanned}
	bob := &scripted.Conversation{A: hb, User: "test:bob", Policy: scripted.AllowPlanned}

	srv1, n := whoami(t, alice)
	a1 := pids.of(alice.User)
	if n != 1 || a1 == 0 {
		t.Fatalf("first call: calls %d, spoke %d", n, a1)
	}
	_, n = whoami(t, bob)
	b1 := pids.of(bob.User)
	if n != 1 || b1 == a1 {
		t.Fatalf("bob's first call: calls %d (want 1: a server of his own), spoke %d (alice's %d)", n, b1, a1)
	}
	// Idle for longer than the wall-clock bound: the bound is per
	// invocation, so the warm spoke survives the gap.
	time.Sleep(timeout + 500*time.Millisecond)
	srv2, n := whoami(t, alice)
	if a2 := pids.of(alice.User); a2 != a1 || srv2 != srv1 || n != 2 {
		t.Fatalf("alice's second call: spoke %d server %d calls %d; want spoke %d server %d calls 2", a2, srv2, n, a1, srv1)
	}

	// Bob revokes: his spoke dies at once, alice's stays.
	if reply := bob.Send(ctx, "!revoke "+string(s.ID())); !strings.Contains(reply, "Revoked") {
		t.Fatalf("revoke: %q", reply)
	}
	if !gone(t, b1, 3*time.Second) {
		t.Fatalf("bob's warm spoke %d still runs after his revoke", b1)
	}
	if !alive(a1) {
		t.Fatalf("alice's warm spoke %d was killed by bob's revoke", a1)
	}

	// A wall-clock kill ends the warm spoke; the next call starts afresh.
	if reply := alice.Send(ctx, `hostile__sleep {"seconds":60}`); !strings.Contains(reply, "timeout") {
		t.Errorf("sleep past the wall-clock bound: reply %q", reply)
	}
	if !gone(t, a1, 3*time.Second) {
		t.Fatalf("alice's spoke %d survived its wall-clock bound", a1)
	}
	_, n = whoami(t, alice)
	a3 := pids.of(alice.User)
	if a3 == a1 || n != 1 {
		t.Fatalf("after the kill: spoke %d (killed one %d), calls %d; want a fresh spoke and server", a3, a1, n)
	}

	// A denied run ends the warm spoke at once.
	denier := &scripted.Conversation{A: hb, User: alice.User, Policy: scripted.Always(chat.Deny)}
	denier.Send(ctx, `hostile__whoami {}`)
	if !gone(t, a3, 3*time.Second) {
		t.Fatalf("alice's warm spoke %d still runs after she denied a run", a3)
	}
	if r := pids.endReason(a3); r != "exec denied" {
		t.Errorf("spoke %d ended with %q, want exec denied", a3, r)
	}

	// The idle timeout reaps a warm spoke nobody uses.
	whoami(t, alice)
	a4 := pids.of(alice.User)
	if !alive(a4) {
		t.Fatalf("fresh spoke %d not kept warm", a4)
	}
	if !gone(t, a4, idle+5*time.Second) {
		t.Fatalf("warm spoke %d outlived its idle timeout %s", a4, idle)
	}
	if r := pids.endReason(a4); r != "idle timeout" {
		t.Errorf("spoke %d ended with %q, want idle timeout", a4, r)
	}
	// Alice's second whoami and her sleep ran in a reused spoke; every
	// other invocation started one.
	if pids.reuse != 2 {
		t.Errorf("%d reuses, want exactly 2", pids.reuse)
	}
}

// TestWarmOff: with no idle timeout every invocation gets its own spoke
// and server, as before warm spokes.
func TestWarmOff(t *testing.T) {
	pids := &spokePIDs{last: map[ids.UserID]int{}, ends: map[int]string{}}
	hb, _ := hostileHub(t, 0, 30*time.Second, pids.trace)
	alice := &scripted.Conversation{A: hb, User: "test:alice", Policy: scripted.AllowPlanned}
	_, n1 := whoami(t, alice)
	p1 := pids.of(alice.User)
	_, n2 := whoami(t, alice)
	if p2 := pids.of(alice.User); p2 == p1 || n1 != 1 || n2 != 1 {
		t.Fatalf("warm off: spokes %d, %d, calls %d, %d; want two fresh spokes", p1, p2, n1, n2)
	}
	if !gone(t, p1, 3*time.Second) {
		t.Fatalf("spoke %d of a finished invocation still runs", p1)
	}
}

// TestElicitation: the hostile server's elicitation request becomes a
// question to the user through the hub's prompt path. Only the user's
// choices go back; the server's message, which tries to paint a fake
// prompt, is one neutral line marked as the app's; a request that needs
// typed input is not asked and the server is told why.
func TestElicitation(t *testing.T) {
	hb, s := hostileHub(t, 0, 30*time.Second, nil)
	ctx := context.Background()
	tests := []struct {
		name    string
		schema  string
		answers []chat.Decision // to the elicitation prompts, in order
		want    string          // in the reply
		prompts int
		typed   bool // the user can type answers (terminal, Matrix)
	}{
		{"accept", "none", []chat.Decision{chat.Accept}, `{"action": "accept"}`, 1, false},
		{"decline", "none", []chat.Decision{chat.Decline}, `{"action": "decline"}`, 1, false},
		{"cancel", "buttons", []chat.Decision{chat.Accept, chat.Cancel}, `{"action": "cancel"}`, 2, false},
		{"buttons", "buttons", []chat.Decision{chat.Accept, chat.Option("yes"), chat.Option("large")},
			`{"action": "accept", "content": {"confirm": true, "size": "large"}}`, 3, false},
		{"typed, buttons only", "text", nil, "this chat takes no typed answers", 0, false},
		{"typed", "text", []chat.Decision{chat.Accept, chat.Option("Ada Lovelace")}, `{"action": "accept", "content": {"name": "Ada Lovelace"}}`, 2, true},
		{"typed, cancelled", "text", []chat.Decision{chat.Accept, chat.Cancel}, `{"action": "cancel"}`, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var asked []chat.Prompt
			c := &scripted.Conversation{A: hb, User: ids.UserID("test:" + strings.ReplaceAll(tt.name, " ", "_")), Typed: tt.typed}
			c.Policy = func(p chat.Prompt) chat.Decision {
				if p.Kind != chat.KindElicit {
					return scripted.AllowPlanned(p)
				}
				mu.Lock()
				defer mu.Unlock()
				asked = append(asked, p)
				if len(asked) > len(tt.answers) {
					return chat.Cancel
				}
				return tt.answers[len(asked)-1]
			}
			// The result is quoted JSON in the reply.
			reply := strings.ReplaceAll(c.Send(ctx, `hostile__ask {"schema":"`+tt.schema+`"}`), `\"`, `"`)
			if !strings.Contains(reply, tt.want) {
				t.Errorf("reply %q, want %q in it", reply, tt.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(asked) != tt.prompts {
				t.Fatalf("%d elicitation prompts, want %d", len(asked), tt.prompts)
			}
			for i, p := range asked {
				if p.Target != s.ID() || chat.PromptTitle(p) != "App "+string(s.ID())+" asks you a question" {
					t.Errorf("prompt %d: target %q title %q", i, p.Target, chat.PromptTitle(p))
				}
				for _, d := range p.Choices() {
					if d.Valid() {
						t.Errorf("prompt %d offers the permission decision %q", i, d)
					}
				}
				text := chat.PromptText(p)
				if strings.ContainsAny(text, "\x1b\r\a\u202e") {
					t.Errorf("prompt %d: control characters reach the prompt: %q", i, text)
				}
				for _, line := range strings.Split(text, "\n") {
					if strings.HasPrefix(strings.TrimSpace(line), "SecGPT:") {
						t.Errorf("prompt %d: the server's message starts a line of its own: %q", i, line)
					}
				}
				if i == 0 && !strings.Contains(p.Data, "Message from app "+string(s.ID())+" (its own text, not from SecGPT): «") {
					t.Errorf("first prompt does not mark the server's message as its own: %q", p.Data)
				}
			}
		})
	}
}

// statusConv is a scripted conversation that shows a "working" status.
type statusConv struct {
	*scripted.Conversation
	mu       sync.Mutex // guards statuses
	statuses []string
}

func (c *statusConv) Status(_ context.Context, text string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statuses = append(c.statuses, text)
	return nil
}

// TestProgressThroughTheHub: a server's progress notifications reach the
// chat's "working" status end to end (server, spoke, ISC, hub, adapter),
// as numbers under the app's ID; the notification's own message, which
// tries to paint the screen, never does.
func TestProgressThroughTheHub(t *testing.T) {
	hb, s := hostileHub(t, 0, 30*time.Second, nil)
	c := &statusConv{Conversation: &scripted.Conversation{A: hb, User: "test:alice", Policy: scripted.AllowPlanned}}
	hb.Handle(context.Background(), chat.Message{User: c.User, Conversation: "conv:alice", Text: `hostile__progress {}`}, c)
	c.mu.Lock()
	defer c.mu.Unlock()
	var got []string
	for _, st := range c.statuses {
		if strings.ContainsAny(st, "\x1b") || strings.Contains(st, "permission granted") {
			t.Errorf("the server's progress message reached the status: %q", st)
		}
		if strings.Contains(st, string(s.ID())+":") {
			got = append(got, st)
		}
	}
	want := []string{"Working on it… (mcp.hostile: 1 of 3)", "Working on it… (mcp.hostile: 2 of 3)", "Working on it… (mcp.hostile: 3 of 3)"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("progress statuses %q, want %q (all statuses %q)", got, want, c.statuses)
	}
}

// TestWarmEndsWithForgetAndNewSession: `!forget APP` and `!new` end the
// user's warm spoke at once, as a revoke does.
func TestWarmEndsWithForgetAndNewSession(t *testing.T) {
	pids := &spokePIDs{last: map[ids.UserID]int{}, ends: map[int]string{}}
	hb, s := hostileHub(t, time.Minute, 30*time.Second, pids.trace)
	alice := &scripted.Conversation{A: hb, User: "test:alice", Policy: scripted.AllowPlanned}
	for _, tt := range []struct{ command, reason string }{
		{"!forget " + string(s.ID()), "user data forgotten"},
		{"!new", "session ended"},
	} {
		whoami(t, alice)
		pid := pids.of(alice.User)
		if !alive(pid) {
			t.Fatalf("spoke %d not kept warm", pid)
		}
		alice.Send(context.Background(), tt.command)
		if !gone(t, pid, 3*time.Second) {
			t.Fatalf("warm spoke %d still runs after %s", pid, tt.command)
		}
		if r := pids.endReason(pid); r != tt.reason {
			t.Errorf("%s: spoke ended with %q, want %q", tt.command, r, tt.reason)
		}
	}
}

// TestEverythingElicitationThroughTheHub: the real server-everything's
// elicitation (a dozen fields: text, yes/no, numbers, plain and titled
// choices, lists) reaches a user who can type (terminal, Matrix) as
// questions: Accept, each yes/no and choice field with its values as
// options, the required name typed, the optional typed fields skipped;
// the server gets exactly those values. For a buttons-only user (Slack)
// nothing is asked and the server is told why.
func TestEverythingElicitationThroughTheHub(t *testing.T) {
	dir := npmDir(t)
	hb, _ := serverHub(t, node(dir, "server-everything"), dir, 0, 60*time.Second, nil)
	ctx := context.Background()
	answer := func(p chat.Prompt) chat.Decision {
		switch {
		case p.Kind != chat.KindElicit:
			return scripted.AllowPlanned(p)
		case slices.Contains(p.Options, chat.Accept):
			return chat.Accept
		case p.FreeText && slices.Contains(p.Options, chat.Skip):
			// Skip says what the server will get instead.
			if !strings.Contains(p.Data, "Skip sends no value for it") {
				t.Errorf("optional field's prompt does not say what Skip sends: %q", p.Data)
			}
			return chat.Skip
		case p.FreeText:
			return chat.Option("Ada Lovelace")
		}
		return p.Options[0] // yes, or the first value
	}
	typer := &scripted.Conversation{A: hb, User: "test:typer", Policy: answer, Typed: true}
	reply := typer.Send(ctx, `everything__trigger-elicitation-request {}`)
	for _, want := range []string{"Name: Ada Lovelace", "Agreed to terms: true", `"untitledSingleSelectEnum": "Monica"`, `"titledSingleSelectEnum": "hero-1"`} {
		if !strings.Contains(reply, want) {
			t.Errorf("reply lacks %q:\n%s", want, reply)
		}
	}
	var questions int
	for _, p := range typer.Prompts() {
		if p.Kind == chat.KindElicit {
			questions++
		}
	}
	// Accept; name, then six optional typed fields (firstLine, email,
	// homepage, birthdate, integer, number), skipped; check; three
	// single-choice fields. The two list fields cannot be asked and are
	// left out.
	if questions != 12 {
		t.Errorf("%d questions asked, want 12", questions)
	}
	clicker := &scripted.Conversation{A: hb, User: "test:clicker", Policy: answer}
	reply = clicker.Send(ctx, `everything__trigger-elicitation-request {}`)
	if !strings.Contains(reply, "takes no typed answers") {
		t.Errorf("buttons-only user: reply %q", reply)
	}
	for _, p := range clicker.Prompts() {
		if p.Kind == chat.KindElicit {
			t.Errorf("a buttons-only user was asked %q", chat.PromptText(p))
		}
	}
}
