package hub

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/state/memstore"
)

// fuzzApp is the app whose spoke the fuzzer plays; fuzzPeer is the app it
// may call.
type fuzzApp struct{ id string }

const fuzzResponse = `{"type":"object","properties":{"text":{"type":"string","maxLength":100},"n":{"type":"integer"}},"required":["text"]}`

func (a fuzzApp) Spec() apps.Spec {
	return apps.Spec{ID: ids.AppID("fuzz_" + a.id), Functions: []apps.Function{{Name: a.id, Request: json.RawMessage(`{"type":"object","properties":{"q":{"type":"string"}}}`),
		Response: json.RawMessage(fuzzResponse)}}}
}

func (fuzzApp) Call(context.Context, apps.Env, string, json.RawMessage) (json.RawMessage, error) {
	return nil, errors.New("not run in-process")
}

func init() {
	apps.Register("fuzz_self", func() apps.App { return fuzzApp{"self"} })
	apps.Register("fuzz_peer", func() apps.App { return fuzzApp{"peer"} })
}

// refuseSpawner starts nothing: a nested call ends at the gate or here.
type refuseSpawner struct{}

func (refuseSpawner) Start(context.Context, SpokeSpec) (Spoke, error) {
	return nil, errors.New("no spokes in the fuzzer")
}

// refuseConv cannot show prompts, so every prompt is denied at once.
type refuseConv struct{}

func (refuseConv) Reply(context.Context, string) error { return nil }
func (refuseConv) Prompt(context.Context, chat.Prompt) error {
	return errors.New("no prompts in the fuzzer")
}

// FuzzSpokeFrames feeds arbitrary frames (NUL-separated in the input, each
// sent with its own length prefix) to the hub's side of a spoke connection,
// after a proper ready frame. Whatever arrives, serve must return (an
// answer or an error that ends the spoke) without panicking, and a final
// answer it accepts must satisfy the function's response schema.
func FuzzSpokeFrames(f *testing.F) {
	seeds := []string{
		`{"kind":"final_response","body":{"text":"hi","result":{"text":"ok","n":1}}}`,
		`{"kind":"final_response","body":{"text":"hi","result":{"text":"ok","n":"CNRY"}}}`,
		`{"kind":"spoke_error","body":{"message":"boom \u001b[2J"}}`,
		`{"kind":"probe_request","body":{"function":"peer"}}` + "\x00" + `{"kind":"app_request","body":{"function":"peer","args":{"q":"x"}}}` + "\x00" + `{"kind":"final_response","body":{"text":"x"}}`,
		`{"kind":"memory_write","body":{"entries":[{"role":"user","content":"a"}]}}` + "\x00" + `{"kind":"memory_read","body":{"limit":5}}`,
		`{"kind":"state_put","body":{"key":"k","value":[1e999999999]}}` + "\x00" + `{"kind":"state_get","body":{"key":"k"}}`,
		`{"kind":"model_request","body":{"messages":[{"role":"user","content":"x"}]}}`,
		`{"kind":"log","body":{"message":"x"}}` + "\x00" + `{"kind":"ready","body":{"pid":1}}`,
		`{"kind":"init","body":{"app":"x","task":{"instruction":"x"},"max_steps":1}}`,
		`{"kind":"app_request","body":{"function":"peer","args":{"q":1}}}`,
		`{"kind":"final_response","body":{"text":"x","result":{"text":"ok","n":99999999999999999999999999999}}}`,
		`{"kind":"elicit_request","body":{"message":"\u001b[2Jok?","schema":{"type":"object","properties":{"ok":{"type":"boolean"}}}}}` + "\x00" + `{"kind":"final_response","body":{"text":"x"}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	cat, err := apps.NewCatalog([]ids.AppID{"fuzz_self", "fuzz_peer"})
	if err != nil {
		f.Fatal(err)
	}
	model := llm.ModelFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
		return &llm.Response{Content: "fine"}, nil
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := New(Options{Store: memstore.New(memstore.Options{}), Catalog: cat, Model: model, Spawner: refuseSpawner{},
			PromptTimeout: time.Second, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		self, _ := cat.App("fuzz_self")
		tr := &turn{h: h, user: "fuzz:u", conv: "fuzz:c", session: "s", c: refuseConv{}, query: "q"}
		inv := &invocation{turn: tr, app: self, task: isc.Task{Instruction: "x", Function: "self", Args: json.RawMessage(`{}`)}}
		hubEnd, spokeEnd := net.Pipe()
		defer hubEnd.Close()
		go func() {
			defer spokeEnd.Close()
			go func() { _, _ = io.Copy(io.Discard, spokeEnd) }()
			frames := append([][]byte{[]byte(`{"kind":"ready","body":{"pid":1}}`)}, bytes.Split(data, []byte{0})...)
			for _, fr := range frames {
				var hdr [4]byte
				binary.BigEndian.PutUint32(hdr[:], uint32(len(fr)))
				if _, err := spokeEnd.Write(append(hdr[:], fr...)); err != nil {
					return
				}
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done := make(chan struct{})
		var fin isc.Final
		var serr error
		go func() {
			defer close(done)
			fin, serr = h.serve(ctx, inv, isc.NewConn(hubEnd, isc.HubSide, 64<<10))
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not return")
		}
		if serr == nil && len(fin.Result) > 0 {
			sc, err := h.compile(json.RawMessage(fuzzResponse))
			if err != nil {
				t.Fatal(err)
			}
			if err := sc.Validate(fin.Result); err != nil {
				t.Fatalf("accepted a final result that fails its schema: %v", err)
			}
		}
	})
}
