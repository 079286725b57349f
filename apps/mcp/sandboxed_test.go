//go:build linux

package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/spoke"
	"github.com/secgpt-go/secgpt/sandbox"
	"github.com/secgpt-go/secgpt/sandbox/confine"
	"github.com/secgpt-go/secgpt/sandbox/hubspawn"
)

// TestMain makes this test binary a spoke binary too, like cmd/secgpt's main:
// started as a spoke, it enters the sandbox and runs the app.
func TestMain(m *testing.M) {
	Register()
	if confine.IsChild() {
		os.Exit(spoke.Run(confine.EnterSpoke))
	}
	os.Exit(m.Run())
}

// spokeLog collects what the spokes (and the servers in them) wrote to
// stderr, for failure messages.
type spokeLog struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (l *spokeLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 64<<10 {
		l.b.Write(p)
	}
	return len(p), nil
}

func (l *spokeLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// harness plays the hub for MCP apps in real sandboxed spokes: it builds
// each invocation's policy as cli/ wiring does (Mounts per user), and its
// "model" calls exactly the function under test, so what is checked is
// the sandbox and the client, not a model's choices.
type harness struct {
	t    testing.TB
	sp   *sandbox.Spawner
	data string
	// npm is the installed servers' tree. It lives under the test runner's
	// home (a 0700 /root under CI): the spoke, running as nobody, reaches
	// it only as a declared read-only mount.
	npm      string
	log      *spokeLog
	mu       sync.Mutex // guards samps and progress
	samps    []llm.Request
	progress []isc.Progress
}

func newHarness(t testing.TB) *harness { return newHarnessWith(t, sandbox.Config{}) }

// newHarnessWith is newHarness with a spawner built from cfg.
func newHarnessWith(t testing.TB, cfg sandbox.Config) *harness {
	t.Helper()
	log := &spokeLog{}
	cfg.Logger, cfg.Stderr = slog.New(slog.NewTextHandler(io.Discard, nil)), log
	sp, err := sandbox.New(cfg)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("sandbox unavailable under CI: %v", err)
		}
		t.Skipf("sandbox unavailable: %v", err)
	}
	t.Cleanup(func() { sp.Close() })
	// Outside /tmp, like the hub's state directory.
	data, err := os.MkdirTemp("/var/tmp", "secgpt-mcp-data-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(data) })
	return &harness{t: t, sp: sp, data: data, log: log}
}

// policy is what the spoke of one invocation of s for user needs.
func (h *harness) policy(s Server, user ids.UserID) hub.SpokeSpec {
	h.t.Helper()
	var files []hub.Mount
	if h.npm != "" {
		files = append(files, hub.Mount{Source: h.npm})
	}
	ms, err := testMounts(s, files, h.data, user)
	if err != nil {
		h.t.Fatal(err)
	}
	return hub.SpokeSpec{App: s.ID(), User: user, AllowExec: s.Command != "", Domains: Domains(s), Ports: Ports(s), Mounts: ms,
		Timeout: 60 * time.Second, Limits: hub.SpokeLimits{Memory: 1 << 30, OpenFiles: 256, Procs: 128}}
}

// testMounts are files, and s's data directory for user when it has one.
func testMounts(s Server, files []hub.Mount, dataRoot string, user ids.UserID) ([]hub.Mount, error) {
	dir, err := DataDirOf(s, dataRoot, user)
	if err != nil || dir == "" {
		return files, err
	}
	return append(append([]hub.Mount(nil), files...), hub.Mount{Source: dir, Target: DataDir, Write: true}), nil
}

// testStarter starts discovery spokes through st as spec says.
func testStarter(st hub.Spawner, spec hub.SpokeSpec) Starter {
	return func(ctx context.Context, n Needs) (Spoke, error) {
		spec.App, spec.AllowExec, spec.Domains, spec.Ports = n.App, n.Exec, n.Domains, n.Ports
		p, err := st.Start(ctx, spec)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}

// discover learns s's tools in a sandboxed spoke.
func (h *harness) discover(s Server) Server {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := Discover(ctx, testStarter(hubspawn.New(h.sp), h.policy(s, "discovery")), s)
	if err != nil {
		h.t.Fatalf("discover: %v\nspoke output:\n%s", err, h.log)
	}
	return d
}

// call runs function fn of s with args for user in a fresh spoke and
// returns the function's result.
func (h *harness) call(s Server, user ids.UserID, fn, args string) (Result, error) {
	h.t.Helper()
	cfg, _ := json.Marshal(s)
	res, _, err := h.invoke(s.ID(), cfg, h.policy(s, user), fn, args, 1)
	if err != nil {
		return Result{}, err
	}
	var r Result
	return r, json.Unmarshal(res, &r)
}

// timing is how long the parts of one invocation took.
type timing struct {
	ready time.Duration   // Start until the spoke's ready frame
	calls []time.Duration // each function call, as the spoke's agent loop saw it
	total time.Duration   // Start until the final answer
}

// invoke runs one invocation of app in a fresh spoke as spec says, in which
// the agent loop calls fn with args n times in a row, and returns the
// function's result and the timing.
func (h *harness) invoke(app ids.AppID, cfg json.RawMessage, spec hub.SpokeSpec, fn, args string, n int) (json.RawMessage, timing, error) {
	var tm timing
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	proc, err := hubspawn.New(h.sp).Start(ctx, spec)
	if err != nil {
		return nil, tm, err
	}
	defer func() {
		proc.Kill("test done")
		_ = proc.Wait()
	}()
	conn := isc.NewConn(proc.Conn(), isc.HubSide, 4<<20)
	calls := 0
	var sent time.Time
	for range 64 {
		f, err := conn.Recv()
		if err != nil {
			return nil, tm, fmt.Errorf("spoke: %w (killed: %q)", err, proc.KillReason())
		}
		var kind isc.Kind
		var body any
		switch f.Kind {
		case isc.KindReady:
			tm.ready = time.Since(start)
			kind, body = isc.KindInit, isc.Init{App: string(app), Task: isc.Task{Instruction: "test", Function: fn, Args: json.RawMessage(args)}, Config: cfg, MaxSteps: n + 2}
		case isc.KindModelRequest:
			var req llm.Request
			if err := f.Decode(&req); err != nil {
				return nil, tm, err
			}
			if len(req.Tools) == 0 { // a sampling request from the server
				h.mu.Lock()
				h.samps = append(h.samps, req)
				h.mu.Unlock()
				kind, body = isc.KindModelResponse, llm.Response{Content: "sampled: the hub's model answered"}
				break
			}
			if calls > 0 {
				tm.calls = append(tm.calls, time.Since(sent))
			}
			if calls < n {
				calls++
				kind, body = isc.KindModelResponse, llm.Response{ToolCalls: []llm.ToolCall{{ID: fmt.Sprint("c", calls), Name: fn, Arguments: json.RawMessage(args)}}}
				sent = time.Now()
			} else {
				kind, body = isc.KindModelResponse, llm.Response{Content: "done"}
			}
		case isc.KindFinal:
			tm.total = time.Since(start)
			var fin isc.Final
			if err := f.Decode(&fin); err != nil {
				return nil, tm, err
			}
			if len(fin.Result) == 0 {
				return nil, tm, fmt.Errorf("no result; final text %q", fin.Text)
			}
			return fin.Result, tm, nil
		case isc.KindSpokeError:
			var e isc.ErrorBody
			_ = f.Decode(&e)
			return nil, tm, fmt.Errorf("spoke error: %s", e.Message)
		case isc.KindStateGet:
			kind, body = isc.KindStateValue, isc.StateValue{}
		case isc.KindMemoryRead:
			kind, body = isc.KindMemory, isc.Memory{Entries: []isc.MemoryEntry{}}
		case isc.KindMemoryWrite, isc.KindStatePut:
			kind, body = isc.KindOK, struct{}{}
		case isc.KindElicit:
			// The user this harness plays declines every question.
			kind, body = isc.KindElicitResult, isc.ElicitResult{Action: "decline"}
		case isc.KindLog:
			continue
		case isc.KindProgress:
			var p isc.Progress
			if err := f.Decode(&p); err != nil {
				return nil, tm, err
			}
			h.mu.Lock()
			h.progress = append(h.progress, p)
			h.mu.Unlock()
			continue
		default:
			return nil, tm, fmt.Errorf("unexpected %s", f.Kind)
		}
		if err := conn.Send(kind, body); err != nil {
			return nil, tm, err
		}
	}
	return nil, tm, fmt.Errorf("too many frames")
}

// mustCall is call that fails the test on error.
func (h *harness) mustCall(s Server, user ids.UserID, fn, args string) Result {
	h.t.Helper()
	r, err := h.call(s, user, fn, args)
	if err != nil {
		h.t.Fatalf("%s %s: %v\nspoke output:\n%s", fn, args, err, h.log)
	}
	return r
}

func node(dir, server string, args ...string) Server {
	return Server{Name: strings.TrimPrefix(server, "server-"), Command: "/usr/bin/node", Args: append([]string{serverJS(dir, server)}, args...)}
}

// memoryServer is the real memory server keeping its graph in the user's
// data directory.
func memoryServer(dir string) Server {
	s := node(dir, "server-memory")
	s.Data = true
	s.Env = map[string]string{"MEMORY_FILE_PATH": DataVar + "/memory.jsonl"}
	return s
}

// TestMemoryServerPerUser: the real memory server, sandboxed, keeps a
// knowledge graph per user in that user's data directory, and one user's
// graph never shows in another's.
func TestMemoryServerPerUser(t *testing.T) {
	dir := npmDir(t)
	h := newHarness(t)
	s := memoryServer(dir)
	h.npm = dir
	s = h.discover(s)
	if _, ok := newApp(s).Spec().Function("memory__read_graph"); !ok {
		t.Fatalf("tools: %+v", s.Tools)
	}
	h.mustCall(s, "slack:T1:alice", "memory__create_entities", `{"entities":[{"name":"Alice secret project","entityType":"project","observations":["codename bluebird"]}]}`)
	// A new spoke (the first one is gone): the graph persisted.
	r := h.mustCall(s, "slack:T1:alice", "memory__read_graph", `{}`)
	if !strings.Contains(r.Text, "bluebird") || len(r.Structured) == 0 {
		ents, _ := os.ReadDir(UserDir(h.data, s.ID(), "slack:T1:alice"))
		t.Fatalf("alice's graph lost between invocations: %+v\nher directory: %v\nspoke output:\n%s", r, ents, h.log)
	}
	r = h.mustCall(s, "slack:T1:bob", "memory__read_graph", `{}`)
	if strings.Contains(r.Text, "bluebird") || strings.Contains(string(r.Structured), "bluebird") {
		t.Fatalf("bob sees alice's graph: %+v", r)
	}
	r = h.mustCall(s, "slack:T1:bob", "memory__search_nodes", `{"query":"bluebird"}`)
	if strings.Contains(r.Text, "bluebird") {
		t.Fatalf("bob finds alice's node: %+v", r)
	}
	alice := filepath.Join(UserDir(h.data, s.ID(), "slack:T1:alice"), "memory.jsonl")
	if b, err := os.ReadFile(alice); err != nil || !strings.Contains(string(b), "bluebird") {
		t.Fatalf("alice's graph is not in her directory: %q, %v", b, err)
	}
}

// TestFilesystemServerConfined: the real filesystem server is started with
// a broader root than the sandbox allows (the host directory that holds
// every user's directory and a stand-in for the hub's state file) and told
// no roots, so its own path check allows all of it; the sandbox alone
// keeps it to the user's own directory.
func TestFilesystemServerConfined(t *testing.T) {
	dir := npmDir(t)
	h := newHarness(t)
	s := node(dir, "server-filesystem", DataDir, h.data)
	s.Data, s.HideRoots = true, true
	h.npm = dir
	s = h.discover(s)
	// A world-readable file outside every mount stands for the hub's state
	// file; bob's directory for another user's files.
	secret := filepath.Join(h.data, "hub-state.db")
	if err := os.WriteFile(secret, []byte("hub state"), 0o644); err != nil {
		t.Fatal(err)
	}
	note := DataDir + "/note.txt"
	h.mustCall(s, "u:alice", "filesystem__write_file", `{"path":"`+note+`","content":"alice's note"}`)
	r := h.mustCall(s, "u:alice", "filesystem__read_text_file", `{"path":"`+note+`"}`)
	if !strings.Contains(r.Text, "alice's note") {
		t.Fatalf("alice cannot read back her note: %+v", r)
	}
	bob := UserDir(h.data, s.ID(), "u:bob")
	h.mustCall(s, "u:bob", "filesystem__write_file", `{"path":"`+DataDir+`/bob.txt","content":"bob's note"}`)
	aliceDir := UserDir(h.data, s.ID(), "u:alice")
	tests := []struct {
		path string
		os   bool // inside the server's own root: only the OS can refuse
	}{
		{secret, true},
		{filepath.Join(bob, "bob.txt"), true}, // bob's own file, by its host path
		{aliceDir + "/note.txt", true},
		{"/root/.ssh/id_ed25519", false},
		{"/etc/shadow", false},
	}
	for _, tc := range tests {
		r, err := h.call(s, "u:bob", "filesystem__read_text_file", `{"path":"`+tc.path+`"}`)
		if err != nil {
			t.Fatalf("read %s: %v", tc.path, err)
		}
		if !r.IsError || strings.Contains(r.Text, "'s note") || strings.Contains(r.Text, "hub state") {
			t.Fatalf("bob's filesystem server read %s: %+v", tc.path, r)
		}
		if tc.os && !strings.Contains(r.Text, "EACCES") && !strings.Contains(r.Text, "ENOENT") {
			t.Errorf("read %s: refused, but not by the OS: %s", tc.path, r.Text)
		}
		t.Logf("read %s: %s", tc.path, r.Text)
	}
}

// TestEverythingServer: tools, structured output with its schema, sampling
// through the hub, elicitation declined, images dropped with a note,
// resource links read through the same server, a long operation with
// progress.
func TestEverythingServer(t *testing.T) {
	dir := npmDir(t)
	h := newHarness(t)
	s := node(dir, "server-everything", "stdio")
	h.npm = dir
	s = h.discover(s)
	names := map[string]bool{}
	for _, f := range s.Tools {
		names[f.Name] = true
		if f.Effect != DefaultEffect {
			t.Errorf("%s: effect %q from an untrusted server", f.Name, f.Effect)
		}
	}
	for _, want := range []string{"everything__echo", "everything__get-structured-content", "everything__trigger-sampling-request", "everything__trigger-elicitation-request"} {
		if !names[want] {
			t.Errorf("tool %s missing; have %v", want, names)
		}
	}
	r := h.mustCall(s, "u:a", "everything__echo", `{"message":"hi \u001b[31mred"}`)
	if !strings.Contains(r.Text, "hi [31mred") || strings.ContainsRune(r.Text, 0x1b) {
		t.Errorf("echo: %q (escape must be gone, text kept)", r.Text)
	}
	r = h.mustCall(s, "u:a", "everything__get-structured-content", `{"location":"Chicago"}`)
	if !strings.Contains(string(r.Structured), "temperature") {
		t.Errorf("structured: %+v", r)
	}
	r = h.mustCall(s, "u:a", "everything__get-tiny-image", `{}`)
	if len(r.Notes) == 0 || !strings.Contains(strings.Join(r.Notes, " "), "image") {
		t.Errorf("image not dropped with a note: %+v", r)
	}
	r = h.mustCall(s, "u:a", "everything__trigger-sampling-request", `{"prompt":"say hi","maxTokens":20}`)
	if !strings.Contains(r.Text, "the hub's model answered") {
		t.Errorf("sampling result: %+v", r)
	}
	h.mu.Lock()
	ns := len(h.samps)
	h.mu.Unlock()
	if ns == 0 {
		t.Error("the sampling request never reached the hub's model")
	}
	r = h.mustCall(s, "u:a", "everything__trigger-elicitation-request", `{}`)
	if !strings.Contains(strings.ToLower(r.Text), "decline") {
		t.Errorf("elicitation: %+v", r)
	}
	r = h.mustCall(s, "u:a", "everything__get-resource-links", `{"count":2}`)
	if !strings.Contains(r.Text, "Resource") {
		t.Errorf("resource links: %+v", r)
	}
	r = h.mustCall(s, "u:a", "everything__trigger-long-running-operation", `{"duration":1,"steps":2}`)
	if !strings.Contains(r.Text, "ompleted") {
		t.Errorf("long operation: %+v", r)
	}
	h.mu.Lock()
	progress := h.progress
	h.mu.Unlock()
	// The SDK hands notifications to their handler on goroutines of their
	// own, so the report of the last step may come after the answer, when
	// there is nothing left to show: at least the first step's is in.
	if len(progress) == 0 || len(progress) > 2 || progress[0].Total != 2 || progress[0].Done < 1 {
		t.Errorf("progress reports %+v, want the first (or both) of 2 steps, with their total", progress)
	}
}

// TestHostileServer runs our hostile Python server (testdata; standard
// library only, so it is also the test of python3 in the sandbox): its
// injected text and escape sequences are cleaned, its annotations do not
// lower any effect, every escape attempt fails at the OS level, and its
// flood is cut to the result bound.
func TestHostileServer(t *testing.T) {
	script := hostileScript(t)
	h := newHarness(t)
	h.npm = filepath.Dir(script) // the script's directory, read-only
	s := Server{Name: "hostile", Command: "/usr/bin/python3", Args: []string{script}}
	s = h.discover(s)
	if strings.ContainsRune(s.Instructions, 0x1b) || len(s.Instructions) > 2*maxDescription {
		t.Errorf("instructions not cleaned: %q", s.Instructions)
	}
	for _, f := range s.Tools {
		if strings.ContainsRune(f.Description, 0x1b) {
			t.Errorf("%s: escape sequence in the description: %q", f.Name, f.Description)
		}
		if f.Effect != DefaultEffect {
			t.Errorf("%s: the server's read-only claim lowered the effect to %q", f.Name, f.Effect)
		}
	}
	r := h.mustCall(s, "u:a", "hostile__add", `{"a":2,"b":3}`)
	if !strings.HasPrefix(r.Text, "5 ") || strings.ContainsRune(r.Text, 0x1b) {
		t.Errorf("add: %q", r.Text)
	}
	state := filepath.Join(h.data, "secgpt.db")
	if err := os.WriteFile(state, []byte("grants and memory"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = h.mustCall(s, "u:a", "hostile__attack", `{"state_file":"`+state+`"}`)
	t.Logf("attack report: %s", r.Text)
	if strings.Contains(r.Text, "SUCCEEDED") || !strings.Contains(r.Text, "connect out") {
		t.Errorf("an attack worked (or did not run): %s", r.Text)
	}
	if _, err := os.Stat("/var/tmp/hostile-was-here"); err == nil {
		t.Error("the hostile server wrote to the host")
	}
	r = h.mustCall(s, "u:a", "hostile__flood", `{}`)
	if n := len([]rune(r.Text)); n > maxText+1 {
		t.Errorf("flood passed %d characters", n)
	}
}
