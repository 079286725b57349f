package spoke

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/llm/offline"
)

// echoApp answers with its argument and keeps a counter in app state.
type echoApp struct{}

func (echoApp) Spec() apps.Spec {
	return apps.Spec{ID: "zz_echo", Description: "echoes", Annotation: "[annotation]",
		Functions: []apps.Function{{Name: "zz_echo", Request: json.RawMessage(`{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}`), Response: json.RawMessage(`{"type":"string"}`)}}}
}

func (echoApp) Call(ctx context.Context, env apps.Env, fn string, args json.RawMessage) (json.RawMessage, error) {
	var a struct{ Text string }
	_ = json.Unmarshal(args, &a)
	if err := env.PutState(ctx, "last", args); err != nil {
		return nil, err
	}
	return json.Marshal("echo: " + a.Text)
}

func init() { apps.Register("zz_echo", func() apps.App { return echoApp{} }) }

// fakeHub plays the hub's side of ISC with a scripted model, recording
// what the spoke asked for.
type fakeHub struct {
	t       *testing.T
	conn    *isc.Conn
	model   llm.Model
	kinds   []isc.Kind
	state   map[string]json.RawMessage
	systems []string
}

func (h *fakeHub) serve(init isc.Init) isc.Final {
	f, err := h.conn.Recv()
	if err != nil || f.Kind != isc.KindReady {
		h.t.Fatalf("first frame %v %v", f.Kind, err)
	}
	if err := h.conn.Send(isc.KindInit, init); err != nil {
		h.t.Fatal(err)
	}
	for {
		f, err := h.conn.Recv()
		if err != nil {
			h.t.Fatalf("recv: %v", err)
		}
		h.kinds = append(h.kinds, f.Kind)
		var kind isc.Kind
		var body any
		switch f.Kind {
		case isc.KindFinal:
			var fin isc.Final
			_ = f.Decode(&fin)
			return fin
		case isc.KindModelRequest:
			var req llm.Request
			_ = f.Decode(&req)
			h.systems = append(h.systems, req.SystemText())
			resp, _ := h.model.Generate(context.Background(), &req)
			kind, body = isc.KindModelResponse, resp
		case isc.KindMemoryRead:
			kind, body = isc.KindMemory, isc.Memory{Entries: []isc.MemoryEntry{{Role: "user", Content: "earlier"}}}
		case isc.KindMemoryWrite, isc.KindStatePut:
			var p isc.StatePut
			if f.Kind == isc.KindStatePut {
				_ = f.Decode(&p)
				h.state[p.Key] = p.Value
			}
			kind, body = isc.KindOK, struct{}{}
		case isc.KindProbe:
			kind, body = isc.KindProbeResponse, isc.ProbeResponse{Function: "other_fn", App: "other", Request: json.RawMessage(`{"type":"object"}`)}
		case isc.KindAppRequest:
			kind, body = isc.KindDenial, isc.Denial{Reason: "the user denied it"}
		default:
			h.t.Fatalf("unexpected %s", f.Kind)
		}
		if err := h.conn.Send(kind, body); err != nil {
			h.t.Fatal(err)
		}
	}
}

func pair(t *testing.T) (*isc.Conn, *isc.Conn) {
	fds, err := socketPair()
	if err != nil {
		t.Fatal(err)
	}
	h, s := isc.NewConn(os.NewFile(uintptr(fds[0]), "h"), isc.HubSide, 0), isc.NewConn(os.NewFile(uintptr(fds[1]), "s"), isc.SpokeSide, 0)
	t.Cleanup(func() { h.Close(); s.Close() })
	return h, s
}

func TestRunOwnFunction(t *testing.T) {
	hc, sc := pair(t)
	h := &fakeHub{t: t, conn: hc, model: offline.Model{}, state: map[string]json.RawMessage{}}
	errc := make(chan error, 1)
	go func() { errc <- Serve(context.Background(), sc, nil) }()
	fin := h.serve(isc.Init{App: "zz_echo", Task: isc.Task{Instruction: "echo hi", Function: "zz_echo", Args: json.RawMessage(`{"text":"hi"}`)}, Others: []string{"other_fn"}, MaxSteps: 4})
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if fin.Text != "echo: hi" || string(fin.Result) != `"echo: hi"` {
		t.Fatalf("final = %+v", fin)
	}
	if string(h.state["last"]) != `{"text":"hi"}` {
		t.Fatalf("state = %v", h.state)
	}
	if !strings.Contains(h.systems[0], "[annotation]") || !strings.Contains(h.systems[0], "other apps' functionalities") {
		t.Fatalf("system prompt = %q", h.systems[0])
	}
}

func TestRunOtherAppGoesThroughHub(t *testing.T) {
	hc, sc := pair(t)
	calls := 0
	model := llm.ModelFunc(func(ctx context.Context, req *llm.Request) (*llm.Response, error) {
		calls++
		if calls == 1 {
			return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "1", Name: "other_fn", Arguments: json.RawMessage(`{"x":1}`)}}}, nil
		}
		return &llm.Response{Content: "result: " + req.Messages[len(req.Messages)-1].Content}, nil
	})
	h := &fakeHub{t: t, conn: hc, model: model, state: map[string]json.RawMessage{}}
	go func() { _ = Serve(context.Background(), sc, nil) }()
	fin := h.serve(isc.Init{App: "zz_echo", Task: isc.Task{Instruction: "x"}, Others: []string{"other_fn"}, MaxSteps: 4})
	if fin.Text != "result: denied: the user denied it" {
		t.Fatalf("final = %q", fin.Text)
	}
	want := []isc.Kind{isc.KindMemoryRead, isc.KindModelRequest, isc.KindProbe, isc.KindAppRequest, isc.KindModelRequest, isc.KindMemoryWrite, isc.KindFinal}
	if strings.Join(kinds(h.kinds), ",") != strings.Join(kinds(want), ",") {
		t.Fatalf("frames = %v, want %v", h.kinds, want)
	}
}

func TestRunBadInit(t *testing.T) {
	hc, sc := pair(t)
	errc := make(chan error, 1)
	go func() { errc <- Serve(context.Background(), sc, nil) }()
	if f, err := hc.Recv(); err != nil || f.Kind != isc.KindReady {
		t.Fatal(f.Kind, err)
	}
	_ = hc.Send(isc.KindInit, isc.Init{App: "no_such_app"})
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "no_such_app") {
		t.Fatalf("err = %v", err)
	}
}

func kinds(ks []isc.Kind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

// A direct call runs the task's function with its arguments: no memory
// read, no model turn; the function's result is the final answer.
func TestRunDirect(t *testing.T) {
	hc, sc := pair(t)
	h := &fakeHub{t: t, conn: hc, model: llm.ModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
		t.Error("a direct call asked the model")
		return &llm.Response{}, nil
	}), state: map[string]json.RawMessage{}}
	errc := make(chan error, 1)
	go func() { errc <- Serve(context.Background(), sc, nil) }()
	fin := h.serve(isc.Init{App: "zz_echo", Task: isc.Task{Function: "zz_echo", Args: json.RawMessage(`{"text":"hi"}`), Direct: true}, MaxSteps: 4})
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if fin.Text != "echo: hi" || string(fin.Result) != `"echo: hi"` {
		t.Fatalf("final = %+v", fin)
	}
	if strings.Join(kinds(h.kinds), ",") != "state_put,final_response" {
		t.Fatalf("frames = %v", h.kinds)
	}
}

// A direct call with arguments that fail the schema is refused in the spoke
// too, without running the app.
func TestRunDirectBadArgs(t *testing.T) {
	hc, sc := pair(t)
	errc := make(chan error, 1)
	go func() { errc <- Serve(context.Background(), sc, nil) }()
	if f, err := hc.Recv(); err != nil || f.Kind != isc.KindReady {
		t.Fatal(f.Kind, err)
	}
	_ = hc.Send(isc.KindInit, isc.Init{App: "zz_echo", Task: isc.Task{Function: "zz_echo", Args: json.RawMessage(`{"text":5}`), Direct: true}})
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "invalid arguments") {
		t.Fatalf("err = %v", err)
	}
}

// ResultOnly: the model fills the arguments once; the function's result
// ends the task without a second model turn.
func TestRunResultOnly(t *testing.T) {
	hc, sc := pair(t)
	turns := 0
	model := llm.ModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
		turns++
		return &llm.Response{ToolCalls: []llm.ToolCall{{ID: "1", Name: "zz_echo", Arguments: json.RawMessage(`{"text":"filled"}`)}}}, nil
	})
	h := &fakeHub{t: t, conn: hc, model: model, state: map[string]json.RawMessage{}}
	go func() { _ = Serve(context.Background(), sc, nil) }()
	fin := h.serve(isc.Init{App: "zz_echo", Task: isc.Task{Instruction: "fill", Function: "zz_echo", Args: json.RawMessage(`{"text":[1]}`), ResultOnly: true}, MaxSteps: 4})
	if turns != 1 || string(fin.Result) != `"echo: filled"` {
		t.Fatalf("turns %d, final %+v", turns, fin)
	}
}

// socketPair is a connected pair of unix stream sockets, close-on-exec:
// set under the fork lock, as the standard library does where
// socketpair(2) takes no flags (SOCK_CLOEXEC is Linux's), so the test
// builds on every system.
func socketPair() ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	return fds, err
}
