package hub

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/public"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/memstore"
)

// frameHub is a hub whose spoke is fuzz_self, with no spokes to start and
// no way to show a prompt (every prompt is denied).
func frameHub(t *testing.T) (*Hub, *spokeRun) {
	t.Helper()
	cat, err := apps.NewCatalog([]ids.AppID{"fuzz_self", "fuzz_peer"})
	if err != nil {
		t.Fatal(err)
	}
	model := llm.ModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
		return &llm.Response{Content: "fine"}, nil
	})
	h, err := New(Options{Store: memstore.New(memstore.Options{}), Catalog: cat, Model: model, Spawner: refuseSpawner{},
		PromptTimeout: time.Second, StateQuota: state.Quota{Keys: 1, Bytes: 1 << 10}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	self, _ := cat.App("fuzz_self")
	tr := &turn{h: h, user: "frames:u", conv: "frames:c", session: "s", c: refuseConv{}, query: "q"}
	return h, &spokeRun{inv: &invocation{turn: tr, app: self, task: isc.Task{Instruction: "x", Function: "self", Args: json.RawMessage(`{}`)}}}
}

type frame struct {
	kind isc.Kind
	body string
}

// TestFrameHandlers sends each case's frames, in order, to the handlers of
// one spoke, and checks what the last one answered.
func TestFrameHandlers(t *testing.T) {
	modelReq := frame{isc.KindModelRequest, `{"messages":[{"role":"user","content":"x"}]}`}
	tests := []struct {
		name   string
		frames []frame
		// Exactly one of these describes the last frame's outcome.
		wantKind   isc.Kind
		wantIn     string // in the answer's body
		wantErr    string // the reason of the error that ends the spoke
		wantFinal  string // the final answer's text
		wantSilent bool   // no answer and no error
	}{
		{name: "ready again", frames: []frame{{isc.KindReady, `{"pid":1}`}}, wantErr: "protocol: ready sent twice"},
		{name: "final", frames: []frame{{isc.KindFinal, `{"text":"done","result":{"text":"ok"}}`}}, wantFinal: "done"},
		{name: "final text only", frames: []frame{{isc.KindFinal, `{"text":"done"}`}}, wantFinal: "done"},
		{name: "final off schema", frames: []frame{{isc.KindFinal, `{"text":"x","result":{"text":1}}`}}, wantErr: "its result did not match self's response schema"},
		{name: "final malformed", frames: []frame{{isc.KindFinal, `{"text":1}`}}, wantErr: "protocol: final: isc: malformed frame"},
		{name: "final too long", frames: []frame{{isc.KindFinal, `{"text":"` + strings.Repeat("a", 65<<10) + `"}`}}, wantErr: "final answer too long"},
		{name: "spoke error", frames: []frame{{isc.KindSpokeError, `{"message":"boom"}`}}, wantErr: "the app reported an error"},
		{name: "log", frames: []frame{{isc.KindLog, `{"message":"hello"}`}}, wantSilent: true},
		{name: "progress", frames: []frame{{isc.KindProgress, `{"done":1,"total":2}`}}, wantSilent: true},
		{name: "model", frames: []frame{modelReq}, wantKind: isc.KindModelResponse, wantIn: "fine"},
		{name: "model without messages", frames: []frame{{isc.KindModelRequest, `{"messages":[]}`}}, wantKind: isc.KindHubError, wantIn: "model request out of bounds"},
		{name: "model malformed", frames: []frame{{isc.KindModelRequest, `{"messages":7}`}}, wantErr: "protocol: model request"},
		{name: "model calls bounded", frames: repeat(modelReq, 17), wantErr: "too many model calls (more than 16)"},
		{name: "probe peer", frames: []frame{{isc.KindProbe, `{"function":"peer"}`}}, wantKind: isc.KindProbeResponse, wantIn: `"app":"fuzz_peer"`},
		{name: "probe own", frames: []frame{{isc.KindProbe, `{"function":"self"}`}}, wantKind: isc.KindNoSuch, wantIn: `"self"`},
		{name: "probe unknown", frames: []frame{{isc.KindProbe, `{"function":"nope"}`}}, wantKind: isc.KindNoSuch, wantIn: `"nope"`},
		{name: "probe malformed", frames: []frame{{isc.KindProbe, `{"function":"peer","caller":"x"}`}}, wantErr: "protocol: probe"},
		{name: "app request unknown", frames: []frame{{isc.KindAppRequest, `{"function":"nope","args":{}}`}}, wantKind: isc.KindNoSuch},
		{name: "app request own", frames: []frame{{isc.KindAppRequest, `{"function":"self","args":{}}`}}, wantKind: isc.KindHubError, wantIn: "call your own functions directly"},
		{name: "app request bad args", frames: []frame{{isc.KindAppRequest, `{"function":"peer","args":{"q":1}}`}}, wantKind: isc.KindHubError, wantIn: "do not match peer's request schema"},
		{name: "app request denied", frames: []frame{{isc.KindAppRequest, `{"function":"peer","args":{"q":"x"}}`}}, wantKind: isc.KindDenial, wantIn: "denied fuzz_self the use of fuzz_peer"},
		{name: "app request malformed", frames: []frame{{isc.KindAppRequest, `{"function":"peer","args":{},"caller":"fuzz_peer"}`}}, wantErr: "protocol: app request"},
		{name: "memory empty", frames: []frame{{isc.KindMemoryRead, `{"limit":5}`}}, wantKind: isc.KindMemory, wantIn: `"entries":[]`},
		{name: "memory round trip", frames: []frame{{isc.KindMemoryWrite, `{"entries":[{"role":"user","content":"remember me"}]}`}, {isc.KindMemoryRead, `{"limit":0}`}}, wantKind: isc.KindMemory, wantIn: "remember me"},
		{name: "memory write ok", frames: []frame{{isc.KindMemoryWrite, `{"entries":[{"role":"assistant","content":"a"}]}`}}, wantKind: isc.KindOK},
		{name: "memory bad role", frames: []frame{{isc.KindMemoryWrite, `{"entries":[{"role":"system","content":"a"}]}`}}, wantKind: isc.KindHubError, wantIn: "memory role must be user or assistant"},
		{name: "memory too many", frames: []frame{{isc.KindMemoryWrite, `{"entries":[` + strings.TrimSuffix(strings.Repeat(`{"role":"user","content":"a"},`, 11), ",") + `]}`}}, wantKind: isc.KindHubError, wantIn: "too many memory entries"},
		{name: "memory read malformed", frames: []frame{{isc.KindMemoryRead, `{"limit":"x"}`}}, wantErr: "protocol: memory read"},
		{name: "state missing", frames: []frame{{isc.KindStateGet, `{"key":"k"}`}}, wantKind: isc.KindStateValue, wantIn: `"found":false`},
		{name: "state round trip", frames: []frame{{isc.KindStatePut, `{"key":"k","value":{"n":1}}`}, {isc.KindStateGet, `{"key":"k"}`}}, wantKind: isc.KindStateValue, wantIn: `"value":{"n":1}`},
		{name: "state bad key", frames: []frame{{isc.KindStateGet, `{"key":""}`}}, wantKind: isc.KindHubError, wantIn: "bad state key"},
		{name: "state put long key", frames: []frame{{isc.KindStatePut, `{"key":"` + strings.Repeat("k", 129) + `","value":1}`}}, wantKind: isc.KindHubError, wantIn: "bad state key or value"},
		{name: "state quota", frames: []frame{{isc.KindStatePut, `{"key":"a","value":1}`}, {isc.KindStatePut, `{"key":"b","value":1}`}}, wantKind: isc.KindHubError, wantIn: "state quota exceeded: namespace fuzz_self may hold 1 keys"},
		{name: "state put malformed", frames: []frame{{isc.KindStatePut, `{"key":"a"`}}, wantErr: "protocol: state put"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, r := frameHub(t)
			ctx := context.Background()
			var a answer
			var err error
			for i, f := range tt.frames {
				handle, ok := h.frames[f.kind]
				if !ok {
					t.Fatalf("no handler for %s", f.kind)
				}
				a, err = handle(ctx, r, isc.Frame{Kind: f.kind, Body: json.RawMessage(f.body)})
				if err != nil && i < len(tt.frames)-1 {
					t.Fatalf("frame %d (%s) ended the spoke early: %v", i, f.kind, err)
				}
			}
			switch {
			case tt.wantErr != "":
				if m, ok := public.Message(err); !ok || !strings.HasPrefix(m, tt.wantErr) {
					t.Fatalf("err = %v, want a spoke error with reason %q", err, tt.wantErr)
				}
				return
			case err != nil:
				t.Fatalf("ended the spoke: %v", err)
			case tt.wantFinal != "":
				if a.final == nil || a.final.Text != tt.wantFinal {
					t.Fatalf("final = %+v, want text %q", a.final, tt.wantFinal)
				}
			case tt.wantSilent:
				if a.kind != "" || a.final != nil {
					t.Fatalf("answered %+v, want nothing", a)
				}
			default:
				if a.kind != tt.wantKind {
					t.Fatalf("answer kind %q (%+v), want %q", a.kind, a.body, tt.wantKind)
				}
				b, err := json.Marshal(a.body)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(b), tt.wantIn) {
					t.Fatalf("answer %s does not contain %q", b, tt.wantIn)
				}
			}
		})
	}
}

func repeat(f frame, n int) []frame {
	fs := make([]frame, n)
	for i := range fs {
		fs[i] = f
	}
	return fs
}

// TestEveryRequestKindHasAHandler: a kind a spoke may send and the hub
// has no handler for would end every spoke that uses it.
func TestEveryRequestKindHasAHandler(t *testing.T) {
	h, _ := frameHub(t)
	kinds := []isc.Kind{isc.KindReady, isc.KindProbe, isc.KindAppRequest, isc.KindFinal, isc.KindModelRequest,
		isc.KindMemoryRead, isc.KindMemoryWrite, isc.KindStateGet, isc.KindStatePut, isc.KindSpokeError, isc.KindLog, isc.KindProgress}
	for _, k := range kinds {
		if !k.FromSpoke() {
			t.Errorf("%s is listed here but the codec does not accept it from a spoke", k)
		}
		if _, ok := h.frames[k]; !ok {
			t.Errorf("no handler for %s", k)
		}
	}
	for k := range h.frames {
		if !k.FromSpoke() {
			t.Errorf("handler for %s, which a spoke may not send", k)
		}
	}
}

// TestServeOrder: the conversation's shape (ready first, a final last, a
// bounded number of frames) is checked by serve, whatever the handlers.
func TestServeOrder(t *testing.T) {
	ready := frame{isc.KindReady, `{"pid":1}`}
	logf := frame{isc.KindLog, `{"message":"x"}`}
	tests := []struct {
		name     string
		frames   []frame
		wantErr  string // the spoke error's message prefix; "" wants the final
		wantText string
	}{
		{name: "answer", frames: []frame{ready, {isc.KindStatePut, `{"key":"k","value":1}`}, {isc.KindFinal, `{"text":"hi"}`}}, wantText: "hi"},
		{name: "not ready first", frames: []frame{{isc.KindFinal, `{"text":"hi"}`}}, wantErr: "protocol: first frame is not ready"},
		{name: "no ready", frames: nil, wantErr: "protocol: no ready frame"},
		{name: "ready twice", frames: []frame{ready, ready}, wantErr: "protocol: ready sent twice"},
		{name: "no final", frames: []frame{ready, logf}, wantErr: "exited without a final response"},
		{name: "hub kind", frames: []frame{ready, {isc.KindInit, `{"app":"x","task":{"instruction":"x"},"max_steps":1}`}}, wantErr: "protocol: isc: frame kind not allowed from this peer"},
		{name: "flood", frames: append([]frame{ready}, repeat(logf, maxFramesPerRun+1)...), wantErr: "flooding: more than 400 requests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, r := frameHub(t)
			hubEnd, spokeEnd := net.Pipe()
			defer hubEnd.Close()
			go func() {
				defer spokeEnd.Close()
				c := isc.NewConn(spokeEnd, isc.SpokeSide, 0)
				go func() {
					for {
						if _, err := c.Recv(); err != nil {
							return
						}
					}
				}()
				for _, f := range tt.frames {
					if err := sendRaw(spokeEnd, f); err != nil {
						return
					}
				}
			}()
			fin, err := h.serve(context.Background(), r.inv, isc.NewConn(hubEnd, isc.HubSide, 0))
			if tt.wantErr == "" {
				if err != nil || fin.Text != tt.wantText {
					t.Fatalf("serve = %+v, %v; want text %q", fin, err, tt.wantText)
				}
				return
			}
			if m, ok := public.Message(err); !ok || !strings.HasPrefix(m, tt.wantErr) {
				t.Fatalf("serve err = %v, want reason %q", err, tt.wantErr)
			}
		})
	}
}

// sendRaw writes f as a spoke would, without the codec's direction check.
func sendRaw(w net.Conn, f frame) error {
	b := []byte(`{"kind":"` + string(f.kind) + `","body":` + f.body + `}`)
	hdr := []byte{byte(len(b) >> 24), byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}
	_, err := w.Write(append(hdr, b...))
	return err
}
