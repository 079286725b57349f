package hub_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
)

// stall is an app that, once called, waits until the test lets it go
// (or its spoke is killed), then keeps what it was given in its state:
// a request still running when its user forgets.
type stall struct{}

const stallID ids.AppID = "zz_stall"

// stallGate is the test's hold on stall's calls; one test uses it at a
// time (apps are registered once per binary).
var stallGate struct {
	mu      sync.Mutex
	entered chan struct{}
	release chan struct{}
}

func (stall) Spec() apps.Spec {
	return apps.Spec{ID: stallID, Functions: []apps.Function{
		{Name: "stall_keep", Effect: apps.EffectWrite, Request: json.RawMessage(`{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}`),
			Response: json.RawMessage(`{"type":"string"}`)},
	}}
}

func (stall) Call(ctx context.Context, env apps.Env, _ string, args json.RawMessage) (json.RawMessage, error) {
	stallGate.mu.Lock()
	entered, release := stallGate.entered, stallGate.release
	stallGate.mu.Unlock()
	close(entered)
	// Its context ends when the hub kills the spoke, as a sandboxed
	// spoke's process would end at once.
	select {
	case <-release:
	case <-ctx.Done():
	}
	// Hostile: it writes though its request may be gone.
	_ = env.PutState(context.WithoutCancel(ctx), "kept", args)
	return json.Marshal("kept")
}

func init() { apps.Register(stallID, func() apps.App { return stall{} }) }

// TestForgetStopsRunningRequests (hostile): the user forgets everything
// while a request of theirs is still running (its app has the fact the
// message told and has not answered yet). The forget stops the request
// and waits for it to end before it deletes, so nothing the request would
// write after it comes back: not the fact (remembered at a request's
// end), not the app's state, not a replan question. Both replies say so.
// Without the stop, the request's end stored the fact again after the
// user was told it was forgotten.
func TestForgetStopsRunningRequests(t *testing.T) {
	for _, cmd := range []string{"!forget all", "!forget text", "!forget zz_stall"} {
		t.Run(cmd, func(t *testing.T) {
			stallGate.mu.Lock()
			entered, release := make(chan struct{}), make(chan struct{})
			stallGate.entered, stallGate.release = entered, release
			stallGate.mu.Unlock()
			defer func() {
				select {
				case <-release:
				default:
					close(release)
				}
			}()

			const secret = "qzhidden 4242"
			st := hubtest.Store(t)
			ctx := context.Background()
			user := ids.UserID("test:alice")
			// The fact is known already, so "!forget text" has one to forget.
			if err := st.PutEntities(ctx, user, map[string]string{"text": "qzolder 1111"}); err != nil {
				t.Fatal(err)
			}
			h := hubtest.New(t, hubtest.Options{Store: st, Apps: []ids.AppID{stallID},
				Model: plansByQuery("please", `{"steps":[{"app":"zz_stall","function":"stall_keep","instruction":"keep it","args":{"text":"`+secret+`"}}]}`)})
			req := &scripted.Conversation{A: h, User: user, Policy: scripted.Always(chat.AllowOnce)}
			cmdConv := &scripted.Conversation{A: h, User: user}

			replyReq := make(chan string, 1)
			go func() { replyReq <- req.Send(ctx, "keep "+secret+" please") }()
			select {
			case <-entered:
			case <-time.After(30 * time.Second):
				t.Fatal("the app was never called")
			}
			replyCmd := make(chan string, 1)
			go func() { replyCmd <- cmdConv.Send(ctx, cmd) }()

			var got string
			select {
			case got = <-replyCmd:
			case <-time.After(30 * time.Second):
				t.Fatal("the forget did not answer while the request ran")
			}
			close(release)
			stoppedSay := <-replyReq
			if !strings.Contains(got, "1 request(s) of yours still running, stopped") {
				t.Errorf("%s = %q; want it to say the running request was stopped", cmd, got)
			}
			if !strings.HasPrefix(stoppedSay, "I stopped this request") || strings.Contains(stoppedSay, "qz") {
				t.Errorf("the stopped request answered %q", stoppedSay)
			}
			// Give a write that would slip through time to land.
			time.Sleep(100 * time.Millisecond)
			facts, err := st.Entities(ctx, user)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range facts {
				if v == secret {
					t.Errorf("after %s, the running request stored the fact %s again", cmd, k)
				}
			}
			if v, ok, _ := st.GetAppState(ctx, user, string(stallID), "kept"); ok {
				t.Errorf("after %s, the running request's app kept %s", cmd, v)
			}
			if _, ok, _ := st.TakeReplan(ctx, user, "conv:"+ids.ConversationID(user)); ok {
				t.Errorf("after %s, a replan question of the stopped request was stored", cmd)
			}
			if es, _ := st.ReadMemory(ctx, user, stallID, 10); len(es) > 0 {
				t.Errorf("after %s, the stopped request's app memory: %+v", cmd, es)
			}
		})
	}
}
