// Package spoke is the code that runs inside a spoke process: the app's own
// agent loop with its own LLM context. Its only channel is the ISC socket:
// model calls, memory, app state and calls to other apps all go through the
// hub, so the spoke holds no key, no store address and no other app's data.
//
// It is also the spoke process's entry point (Run), shared by the two
// binaries a hub can run its spokes from: the secgpt binary itself (which
// re-executes itself as a spoke when nothing else is installed) and the lean
// secgpt-spoke binary (cmd/secgpt-spoke), which links only the apps, the
// spoke loop and the sandbox. A spoke is started for every app invocation,
// so what its binary initialises at start-up is paid every time: the secgpt
// binary's package initialisers (the Slack and Matrix clients, every model
// provider's SDK) cost about 55 ms of CPU per start, secgpt-spoke's about
// 19 ms (docs/benchmarks.md). It also says what a spoke binary was built
// from (Describe), so that a hub refuses a secgpt-spoke built from other app
// code or another version of the ISC protocol instead of running it.
//
// Only the binaries (cmd/secgpt, cmd/secgpt-spoke, cmd/secgpt-spoke-local),
// cli/ (which checks a spoke binary's Build), the in-process spokes
// (core/spoke/inproc, core/hubtest) and tests import it.
package spoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/schema"
)

// Run is the spoke process: it confines itself with enter (the sandbox's
// confine.EnterSpoke, passed in by the binary so that core imports no
// sandbox package), serves its app's task and returns the exit code. Call
// it first thing when confine.IsChild() is true.
// It runs the apps its binary registered: cmd/secgpt and cmd/secgpt-spoke
// blank-import apps/standard and register the MCP app (apps/mcp
// Register), so that their spokes run the same apps; cmd/secgpt-spoke-local
// only apps/local. The invariant harness's hostile apps are
// not among them: only the secgpt binary registers them, for the spokes of
// `secgpt eval invariants`, so the secgpt-spoke binary users run does not
// link them.
func Run(enter func() (*os.File, *http.Client, error)) int {
	return serveProcess(enter)
}

// serveProcess enters the sandbox with enter, serves the app's task and
// returns the process exit code.
func serveProcess(enter func() (*os.File, *http.Client, error)) int {
	f, client, err := enter()
	if err != nil {
		fmt.Fprintln(os.Stderr, "spoke: enter sandbox:", err)
		return 3
	}
	conn := isc.NewConn(f, isc.SpokeSide, 0)
	defer conn.Close()
	if err := Serve(context.Background(), conn, client); err != nil {
		_ = conn.Send(isc.KindSpokeError, isc.ErrorBody{Message: err.Error()})
		return 1
	}
	return 0
}

// OtherSchema is the parameter schema shown to the model for other apps'
// functionalities: the spoke knows their names only, until it probes.
const OtherSchema = `{"type":"object","description":"Arguments for this functionality of another app. Its schema is fetched from the hub when you call it."}`

// Serve serves one task over conn: ready, init, the agent loop, final. When
// the Init says Warm, it then sends ready again and serves the next task of
// the same app (a fresh agent loop and model context each time, the app and
// its server kept), until the hub closes the connection.
func Serve(ctx context.Context, conn *isc.Conn, client *http.Client) error {
	if client == nil {
		client = &http.Client{Transport: refuseTransport{}}
	}
	e := &env{conn: conn, client: client}
	var app apps.App
	var first isc.Init
	for n := 0; ; n++ {
		if err := conn.Send(isc.KindReady, isc.Ready{PID: os.Getpid()}); err != nil {
			return fmt.Errorf("send ready: %w", err)
		}
		f, err := conn.Recv()
		if n > 0 && errors.Is(err, io.EOF) {
			// The hub let the warm spoke go.
			return nil
		}
		if err != nil {
			return fmt.Errorf("read init: %w", err)
		}
		if f.Kind != isc.KindInit {
			return fmt.Errorf("frame %q, want init", f.Kind)
		}
		var in isc.Init
		if err := f.Decode(&in); err != nil {
			return fmt.Errorf("decode init: %w", err)
		}
		if app == nil {
			if app, err = apps.NewConfigured(ids.AppID(in.App), in.Config); err != nil {
				return fmt.Errorf("load app: %w", err)
			}
			if c, ok := app.(io.Closer); ok {
				defer c.Close()
			}
			first = in
		} else if in.App != first.App || !bytes.Equal(in.Config, first.Config) {
			// The hub reuses a spoke for its own app only; anything else
			// is a hub bug, and the app's process must not see it.
			return fmt.Errorf("warm spoke of %s was sent a task of %s", first.App, in.App)
		}
		if err := task(ctx, conn, app, e, in); err != nil {
			return err
		}
		if !in.Warm {
			return nil
		}
	}
}

// task runs one task with a fresh agent and sends its final answer.
func task(ctx context.Context, conn *isc.Conn, app apps.App, e *env, in isc.Init) error {
	e.begin(in)
	defer e.end()
	if s, ok := app.(taskStarter); ok {
		s.StartTask()
	}
	a := &agent{conn: conn, app: app, spec: app.Spec(), in: in, env: e}
	var fin isc.Final
	var err error
	switch {
	case in.Task.Function == apps.DescribeFunction:
		d, ok := app.(apps.Describing)
		if !ok {
			return fmt.Errorf("app %s cannot describe itself", in.App)
		}
		fin, err = describe(ctx, d, a.env)
	case in.Task.Direct:
		fin, err = a.direct(ctx)
	default:
		fin, err = a.loop(ctx)
	}
	if err != nil {
		return err
	}
	if err := conn.Send(isc.KindFinal, fin); err != nil {
		return fmt.Errorf("send final: %w", err)
	}
	return nil
}

// taskStarter is an app that keeps per-task counters (an MCP app's
// sampling budget): told when each task of a warm spoke begins.
type taskStarter interface {
	StartTask()
}

type agent struct {
	conn *isc.Conn
	app  apps.App
	spec apps.Spec
	in   isc.Init
	env  *env
	// probed holds the request schemas of other apps' functions learnt by probe.
	probed map[string]*schema.Schema
}

func (a *agent) systemPrompt() string {
	var b strings.Builder
	fmt.Fprintf(&b, "You are the app %q, running isolated inside SecGPT for one user.\n", a.spec.ID)
	if a.spec.Description != "" {
		b.WriteString("About you: " + a.spec.Description + "\n")
	}
	if a.spec.Annotation != "" {
		b.WriteString(a.spec.Annotation + "\n")
	}
	if len(a.spec.Functions) > 0 {
		b.WriteString("Call your own functions to do the task, then answer with the result.\n")
	}
	if len(a.in.Others) > 0 {
		b.WriteString("The other tools are other apps' functionalities. Calling one goes through the hub and asks the user for permission; use them only if your task needs them.\n")
	}
	return b.String()
}

func (a *agent) tools() []llm.Tool {
	var ts []llm.Tool
	for _, f := range a.spec.Functions {
		ts = append(ts, llm.Tool{Name: f.Name, Description: f.Description, Parameters: f.Request})
	}
	for _, o := range a.in.Others {
		ts = append(ts, llm.Tool{Name: o, Description: "A functionality of another app (reached through the hub, with the user's permission).", Parameters: json.RawMessage(OtherSchema)})
	}
	return ts
}

func (a *agent) loop(ctx context.Context) (isc.Final, error) {
	msgs := []llm.Message{{Role: llm.RoleSystem, Content: a.systemPrompt()}}
	if mem, err := a.readMemory(); err == nil {
		for _, e := range mem {
			role := llm.RoleUser
			if e.Role == "assistant" {
				role = llm.RoleAssistant
			}
			msgs = append(msgs, llm.Message{Role: role, Content: e.Content})
		}
	}
	user := "Task: " + a.in.Task.Instruction
	if a.in.Task.Function != "" {
		user += "\nFunction: " + a.in.Task.Function
	}
	if len(a.in.Task.Args) > 0 {
		user += "\nArguments: " + string(a.in.Task.Args)
	}
	msgs = append(msgs, llm.Message{Role: llm.RoleUser, Content: user})
	tools := a.tools()
	var result json.RawMessage
	steps := a.in.MaxSteps
	if steps <= 0 {
		steps = 8
	}
	for i := 0; i < steps; i++ {
		resp, err := a.model(&llm.Request{Messages: msgs, Tools: tools})
		if err != nil {
			return isc.Final{}, err
		}
		if len(resp.ToolCalls) == 0 {
			fin := isc.Final{Text: resp.Content, Result: result}
			a.writeMemory(a.in.Task.Instruction, resp.Content)
			return fin, nil
		}
		msgs = append(msgs, llm.Message{Role: llm.RoleAssistant, Content: resp.Content, ToolCalls: resp.ToolCalls})
		for _, call := range resp.ToolCalls {
			out, res := a.call(ctx, call)
			if res != nil && call.Name == a.in.Task.Function {
				result = res
				if a.in.Task.ResultOnly {
					return isc.Final{Text: out, Result: res}, nil
				}
			}
			msgs = append(msgs, llm.Message{Role: llm.RoleTool, ToolCallID: call.ID, Name: call.Name, Content: out})
		}
	}
	return isc.Final{}, errors.New("agent loop did not finish within its step bound")
}

// direct runs a direct call: the task's function with the task's
// arguments, no model turn. The app's own code still validates nothing the
// hub did not: the arguments were checked against the request schema by
// the hub, and are checked again here, as for a model's call.
func (a *agent) direct(ctx context.Context) (isc.Final, error) {
	if _, ok := a.spec.Function(a.in.Task.Function); !ok {
		return isc.Final{}, fmt.Errorf("direct call: app %s has no function %q", a.spec.ID, a.in.Task.Function)
	}
	out, res := a.call(ctx, llm.ToolCall{ID: "direct", Name: a.in.Task.Function, Arguments: a.in.Task.Args})
	if res == nil {
		return isc.Final{}, fmt.Errorf("direct call of %s: %s", a.in.Task.Function, strings.TrimPrefix(out, "error: "))
	}
	return isc.Final{Text: out, Result: res}, nil
}

func (a *agent) model(req *llm.Request) (*llm.Response, error) { return model(a.conn, req) }

// describe answers a describe task: the app's spec as its result.
func describe(ctx context.Context, d apps.Describing, e *env) (isc.Final, error) {
	sp, err := d.Describe(ctx, e)
	if err != nil {
		return isc.Final{}, fmt.Errorf("describe: %w", err)
	}
	b, err := json.Marshal(sp)
	if err != nil {
		return isc.Final{}, fmt.Errorf("describe: %w", err)
	}
	return isc.Final{Result: b}, nil
}

func model(conn *isc.Conn, req *llm.Request) (*llm.Response, error) {
	f, err := conn.Call(isc.KindModelRequest, req)
	if err != nil {
		return nil, fmt.Errorf("model call: %w", err)
	}
	switch f.Kind {
	case isc.KindModelResponse:
		var r llm.Response
		if err := f.Decode(&r); err != nil {
			return nil, err
		}
		return &r, nil
	case isc.KindHubError:
		var e isc.ErrorBody
		_ = f.Decode(&e)
		return nil, fmt.Errorf("model call: %s", e.Message)
	}
	return nil, fmt.Errorf("model call: unexpected %q", f.Kind)
}

// call runs one tool call: the app's own function locally, any other
// functionality through the hub (probe, then request). It returns the text
// for the model and, for own functions, the structured result.
func (a *agent) call(ctx context.Context, c llm.ToolCall) (string, json.RawMessage) {
	if f, ok := a.spec.Function(c.Name); ok {
		sc, err := schema.Compile(f.Request)
		if err != nil {
			return "error: " + err.Error(), nil
		}
		if err := sc.Validate(c.Arguments); err != nil {
			return "error: invalid arguments: " + err.Error(), nil
		}
		res, err := a.app.Call(ctx, a.env, c.Name, c.Arguments)
		if err != nil {
			return "error: " + err.Error(), nil
		}
		if r, ok := a.app.(apps.Rendering); ok {
			return r.Render(c.Name, res), res
		}
		return resultText(res), res
	}
	return a.remote(c), nil
}

func (a *agent) remote(c llm.ToolCall) string {
	if a.probed == nil {
		a.probed = map[string]*schema.Schema{}
	}
	sc, ok := a.probed[c.Name]
	if !ok {
		f, err := a.conn.Call(isc.KindProbe, isc.Probe{Function: c.Name})
		if err != nil {
			return "error: hub unreachable"
		}
		switch f.Kind {
		case isc.KindNoSuch:
			return "error: no such functionality: " + c.Name
		case isc.KindProbeResponse:
			var pr isc.ProbeResponse
			if err := f.Decode(&pr); err != nil {
				return "error: bad probe response"
			}
			sc, err = schema.Compile(pr.Request)
			if err != nil {
				return "error: bad schema for " + c.Name
			}
			a.probed[c.Name] = sc
			if err := sc.Validate(c.Arguments); err != nil {
				return "error: invalid arguments for " + c.Name + ": " + err.Error() + "; its parameters are " + string(pr.Request)
			}
		default:
			return "error: unexpected " + string(f.Kind)
		}
	} else if err := sc.Validate(c.Arguments); err != nil {
		return "error: invalid arguments for " + c.Name + ": " + err.Error()
	}
	f, err := a.conn.Call(isc.KindAppRequest, isc.AppRequest{Function: c.Name, Args: c.Arguments})
	if err != nil {
		return "error: hub unreachable"
	}
	switch f.Kind {
	case isc.KindAppResponse:
		var r isc.AppResponse
		if err := f.Decode(&r); err != nil {
			return "error: bad app response"
		}
		return resultText(r.Result)
	case isc.KindDenial:
		var d isc.Denial
		_ = f.Decode(&d)
		return "denied: " + d.Reason
	case isc.KindNoSuch:
		return "error: no such functionality: " + c.Name
	case isc.KindHubError:
		var e isc.ErrorBody
		_ = f.Decode(&e)
		return "error: " + e.Message
	}
	return "error: unexpected " + string(f.Kind)
}

func resultText(r json.RawMessage) string {
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s
	}
	return string(r)
}

func (a *agent) readMemory() ([]isc.MemoryEntry, error) {
	f, err := a.conn.Call(isc.KindMemoryRead, isc.MemoryRead{Limit: 20})
	if err != nil {
		return nil, err
	}
	if f.Kind != isc.KindMemory {
		return nil, fmt.Errorf("memory read: %q", f.Kind)
	}
	var m isc.Memory
	if err := f.Decode(&m); err != nil {
		return nil, err
	}
	return m.Entries, nil
}

func (a *agent) writeMemory(q, ans string) {
	_, _ = a.conn.Call(isc.KindMemoryWrite, isc.MemoryWrite{Entries: []isc.MemoryEntry{{Role: "user", Content: q}, {Role: "assistant", Content: ans}}})
}

// env is apps.Env over ISC.
type env struct {
	mu     sync.Mutex // serialises Generate, which an app may call from its own goroutines
	conn   *isc.Conn
	client *http.Client
	// idle is set between the tasks of a warm spoke: the hub is not
	// serving this connection then, so an app's own request (a server's
	// sampling or progress) is refused instead of sent.
	idle atomic.Bool

	tmu    sync.Mutex // guards config and cred
	config json.RawMessage
	cred   *isc.Credential
}

// begin sets up e for the task of in.
func (e *env) begin(in isc.Init) {
	e.tmu.Lock()
	e.config, e.cred = in.Config, in.Credential
	e.tmu.Unlock()
	e.idle.Store(false)
}

// end forgets the task's credential: a warm spoke keeps nothing of one
// invocation's account token for the next.
func (e *env) end() {
	e.idle.Store(true)
	e.tmu.Lock()
	e.cred = nil
	e.tmu.Unlock()
}

func (e *env) User() ids.UserID { return "" }

func (e *env) GetState(_ context.Context, key string) (json.RawMessage, bool, error) {
	f, err := e.conn.Call(isc.KindStateGet, isc.StateGet{Key: key})
	if err != nil {
		return nil, false, fmt.Errorf("state get: %w", err)
	}
	if f.Kind != isc.KindStateValue {
		var b isc.ErrorBody
		_ = f.Decode(&b)
		return nil, false, fmt.Errorf("state get: %s", b.Message)
	}
	var v isc.StateValue
	if err := f.Decode(&v); err != nil {
		return nil, false, err
	}
	return v.Value, v.Found, nil
}

func (e *env) PutState(_ context.Context, key string, value json.RawMessage) error {
	f, err := e.conn.Call(isc.KindStatePut, isc.StatePut{Key: key, Value: value})
	if err != nil {
		return fmt.Errorf("state put: %w", err)
	}
	if f.Kind != isc.KindOK {
		var b isc.ErrorBody
		_ = f.Decode(&b)
		return fmt.Errorf("state put: %s", b.Message)
	}
	return nil
}

// Generate is a model call of the app's own (an MCP server's sampling
// request), through the hub like the agent loop's: the spoke holds no key.
func (e *env) Generate(_ context.Context, req *llm.Request) (*llm.Response, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.idle.Load() {
		return nil, errors.New("model call outside a task")
	}
	return model(e.conn, req)
}

// Elicit asks the app's user a question through the hub (an MCP server's
// elicitation) and returns the user's answer.
// A note from the hub (fields it cannot ask for) becomes the error the
// server gets.
func (e *env) Elicit(_ context.Context, message string, schema json.RawMessage) (string, map[string]any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.idle.Load() {
		return "", nil, errors.New("elicitation outside a task")
	}
	f, err := e.conn.Call(isc.KindElicit, isc.Elicit{Message: message, Schema: schema})
	if err != nil {
		return "", nil, fmt.Errorf("elicit: %w", err)
	}
	switch f.Kind {
	case isc.KindElicitResult:
		var r isc.ElicitResult
		if err := f.Decode(&r); err != nil {
			return "", nil, fmt.Errorf("elicit: %w", err)
		}
		if r.Note != "" {
			return "", nil, errors.New(r.Note)
		}
		return r.Action, r.Content, nil
	case isc.KindHubError:
		var b isc.ErrorBody
		_ = f.Decode(&b)
		return "", nil, fmt.Errorf("elicit: %s", b.Message)
	}
	return "", nil, fmt.Errorf("elicit: unexpected %q", f.Kind)
}

// Progress reports how far a long call has come; the hub shows it as
// numbers in the chat's "working" status. It does not wait for an answer.
func (e *env) Progress(done, total float64) {
	if e.idle.Load() {
		return
	}
	_ = e.conn.Send(isc.KindProgress, isc.Progress{Done: done, Total: total})
}

// Config is the app's config section.
func (e *env) Config() json.RawMessage {
	e.tmu.Lock()
	defer e.tmu.Unlock()
	return e.config
}

func (e *env) HTTPClient() *http.Client { return e.client }

// Credential returns the linked-account token the hub put in this
// invocation's init, if it is for provider.
func (e *env) Credential(provider string) (apps.Credential, bool) {
	e.tmu.Lock()
	c := e.cred
	e.tmu.Unlock()
	if c == nil || c.Provider != provider || c.AccessToken == "" {
		return apps.Credential{}, false
	}
	return apps.Credential{Provider: c.Provider, AccessToken: c.AccessToken, TokenType: c.TokenType, Expiry: c.Expiry}, true
}

type refuseTransport struct{}

func (refuseTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("network access is not allowed for this app (it declares no domains): %s", r.URL.Host)
}

var _ apps.CredentialEnv = (*env)(nil)
