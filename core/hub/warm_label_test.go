package hub_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/gate"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/spoke"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// holder stands for an MCP server kept warm: an external app (so the hub
// keeps its spoke between invocations) that answers from what its process
// keeps, here nothing but a word. It runs no program: the test's spokes
// are goroutines.
type holder struct{}

const holderID ids.AppID = "zz_holder"

func (holder) Spec() apps.Spec {
	return apps.Spec{ID: holderID, External: true, Functions: []apps.Function{
		{Name: "hold", Effect: apps.EffectRead, Request: json.RawMessage(`{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}`),
			Response: json.RawMessage(`{"type":"string"}`)},
	}}
}

func (holder) Call(context.Context, apps.Env, string, json.RawMessage) (json.RawMessage, error) {
	return json.Marshal("held")
}

func init() { apps.Register(holderID, func() apps.App { return holder{} }) }

// keptSpawner runs each spoke's code (core/spoke.Serve) in a goroutine
// over a net.Pipe, as a spoke the hub may keep warm: it has a Rearm (a
// no-op; these spokes have no wall-clock bound). Unlike hubtest's
// in-process spawner it starts external apps' spokes: the only one here
// is holder, which runs no program.
type keptSpawner struct{ pids atomic.Int64 }

func (s *keptSpawner) Start(ctx context.Context, _ hub.SpokeSpec) (hub.Spoke, error) {
	hubEnd, end := net.Pipe()
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	k := &keptSpoke{conn: hubEnd, cancel: cancel, done: make(chan struct{}), pid: int(s.pids.Add(1))}
	go func() {
		defer close(k.done)
		conn := isc.NewConn(end, isc.SpokeSide, 0)
		defer conn.Close()
		if err := spoke.Serve(runCtx, conn, nil); err != nil {
			_ = conn.Send(isc.KindSpokeError, isc.ErrorBody{Message: err.Error()})
		}
	}()
	return k, nil
}

type keptSpoke struct {
	conn   net.Conn
	cancel context.CancelFunc
	done   chan struct{}
	pid    int

	mu     sync.Mutex // guards reason
	reason string
}

func (k *keptSpoke) Conn() io.ReadWriteCloser { return k.conn }
func (k *keptSpoke) Kill(reason string) {
	k.mu.Lock()
	if k.reason == "" {
		k.reason = reason
	}
	k.mu.Unlock()
	k.cancel()
	_ = k.conn.Close()
}
func (k *keptSpoke) KillReason() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reason
}
func (k *keptSpoke) Wait() error         { <-k.done; k.cancel(); return nil }
func (k *keptSpoke) PID() int            { return k.pid }
func (k *keptSpoke) Rearm(time.Duration) {}

// TestWarmSpokeHoldsWhatItWasGiven: a warm spoke (an MCP server's, kept
// between invocations) was given quick_ride's fare in one message; its
// process may have kept it. In the next message it runs on its own and
// its answer goes to zz_ws: that answer derives from the fare too, so
// "deny collab:quick_ride->zz_ws" refuses it, where a rule on another
// pair does not. The spoke must really have been reused.
func TestWarmSpokeHoldsWhatItWasGiven(t *testing.T) {
	const (
		first = `{"steps":[{"app":"quick_ride","function":"quick_ride","instruction":"fare","args":{"start_point":"Main Street","end_point":"Elm Avenue"}},` +
			`{"app":"zz_holder","function":"hold","instruction":"hold it","args":{"text":"<result_1>"}}]}`
		later = `{"steps":[{"app":"zz_holder","function":"hold","instruction":"hold","args":{"text":"again"}},` +
			`{"app":"zz_ws","function":"ws_note","instruction":"note","args":{"text":"<result_1>"}}]}`
	)
	tests := []struct {
		rule   string
		wantWS int
	}{
		{"collab:quick_ride->zz_ws", 0},
		{"collab:metro_hail->zz_ws", 1},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			ru, err := gate.ParseRule("deny", tt.rule)
			if err != nil {
				t.Fatal(err)
			}
			cat, err := apps.NewCatalog([]ids.AppID{"quick_ride", holderID, wsID})
			if err != nil {
				t.Fatal(err)
			}
			var reused atomic.Int64
			store := hubtest.Store(t)
			h, err := hub.New(hub.Options{Store: store, Catalog: cat, Model: plansInTurn(first, later), Spawner: &keptSpawner{},
				PromptTimeout: 10 * time.Second, SpokeTimeout: 30 * time.Second, WarmIdle: time.Minute, Rules: []gate.Rule{ru},
				Trace: func(e hub.TraceEvent) {
					if e.Type == vocab.TraceSpokeReuse && e.App == holderID {
						reused.Add(1)
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = h.Close() })
			user := ids.UserID("test:alice")
			c := &scripted.Conversation{A: h, User: user, Policy: scripted.Always(chat.AllowOnce)}
			ctx := context.Background()
			c.Send(ctx, "a fare, and hold it")
			ws0 := len(wsCalls(t, store, user))
			reply := c.Send(ctx, "and now pass it on")
			if reused.Load() != 1 {
				t.Fatalf("the holder's spoke was reused %d times, want 1 (reply %q)", reused.Load(), reply)
			}
			if got := len(wsCalls(t, store, user)) - ws0; got != tt.wantWS {
				t.Errorf("zz_ws ran %d times in the later message, want %d (reply %q)", got, tt.wantWS, reply)
			}
		})
	}
}
