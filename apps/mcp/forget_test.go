//go:build linux

package mcp

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/state/redis"
	"github.com/secgpt-go/secgpt/core/state/redistest"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// replicaHubs are n hubs over in's catalog sharing one real Redis and one
// data root (the volume every replica mounts), as n bot replicas are.
// listening[i] false leaves replica i's subscriptions down (a Redis
// restart's back-off); trace[i], if set, sees replica i's trace.
func (in *installed) replicaHubs(t *testing.T, n int, idle time.Duration, listening []bool, trace []func(hub.TraceEvent)) []*hub.Hub {
	t.Helper()
	url := redistest.Server(t)
	ns := fmt.Sprintf("mcp-forget-%d", time.Now().UnixNano())
	var hs []*hub.Hub
	for i := range n {
		st, err := redis.Open(context.Background(), url, redis.Options{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		rl := st.Relay(redis.RelayOptions{})
		var tr func(hub.TraceEvent)
		if i < len(trace) {
			tr = trace[i]
		}
		o := in.options(idle, 0, tr)
		o.Store, o.Relay, o.Liveness, o.UserEvents, o.ReplicaID = st, rl, rl, rl, fmt.Sprintf("r%d", i)
		o.UserData = UserDirs{Root: in.h.data}
		hb, err := hub.New(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = hb.Close() })
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		if i >= len(listening) || listening[i] {
			go hb.Run(ctx)
		}
		hs = append(hs, hb)
	}
	return hs
}

// TestForgetReachesServerData: "!forget all" and "!forget <server>" on
// one replica delete what the memory server keeps for the user in its
// per-user data directory, so the next call on another replica does not
// read the forgotten fact back; another user's data stays.
func TestForgetReachesServerData(t *testing.T) {
	dir := npmDir(t)
	in := install(t, memoryServer(dir), dir)
	hs := in.replicaHubs(t, 2, 0, nil, nil)
	ctx := context.Background()
	for _, arg := range []string{"all", string(in.s.ID())} {
		t.Run(arg, func(t *testing.T) {
			create := `memory__create_entities {"entities":[{"name":"Trip ` + arg + `","entityType":"plan","observations":["flight AB123 to Lisbon"]}]}`
			alice := func(h *hub.Hub) *scripted.Conversation {
				return &scripted.Conversation{A: h, User: "test:alice", Policy: scripted.AllowPlanned}
			}
			bob := &scripted.Conversation{A: hs[0], User: "test:bob", Policy: scripted.AllowPlanned}
			if reply := alice(hs[0]).Send(ctx, create); !strings.Contains(reply, "AB123") {
				t.Fatalf("create: %q\n%s", reply, in.h.log)
			}
			if reply := bob.Send(ctx, create); !strings.Contains(reply, "AB123") {
				t.Fatalf("create for bob: %q", reply)
			}
			reply := alice(hs[1]).Send(ctx, "!forget "+arg)
			if !strings.Contains(reply, "data folder") {
				t.Errorf("forget does not say the server's data went: %q", reply)
			}
			if reply := alice(hs[0]).Send(ctx, `memory__read_graph {}`); strings.Contains(reply, "AB123") {
				t.Fatalf("after !forget %s the next call read the forgotten fact back: %q", arg, reply)
			}
			if reply := bob.Send(ctx, `memory__read_graph {}`); !strings.Contains(reply, "AB123") {
				t.Fatalf("forgetting alice lost bob's data: %q", reply)
			}
		})
	}
}

// traceLog records a replica's trace events of one type.
type traceLog struct {
	mu sync.Mutex
	ev []hub.TraceEvent
}

func (l *traceLog) add(e hub.TraceEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ev = append(l.ev, e)
}

func (l *traceLog) count(typ vocab.TraceType) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.ev {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// TestDropReachesEveryReplica: a new session, a revoke, a forget or a
// deny handled on replica B ends the user's warm server on replica A: at
// once when A hears of it, and at A's next call of it when A's
// subscription was down (the user's epoch in the store); the user's
// next call on A starts a fresh server.
func TestDropReachesEveryReplica(t *testing.T) {
	dir := npmDir(t)
	in := install(t, memoryServer(dir), dir)
	ctx := context.Background()
	for _, listening := range []bool{true, false} {
		for _, cmd := range []string{"!new", "!revoke all", "!forget all", "deny"} {
			t.Run(fmt.Sprintf("%s listening %v", cmd, listening), func(t *testing.T) {
				var onA traceLog
				hs := in.replicaHubs(t, 2, time.Minute, []bool{listening, true}, []func(hub.TraceEvent){onA.add})
				alice := &scripted.Conversation{A: hs[0], User: "test:alice", Policy: scripted.AllowPlanned}
				read := `memory__read_graph {}`
				alice.Send(ctx, read)
				alice.Send(ctx, read)
				if onA.count(vocab.TraceSpokeReuse) != 1 {
					t.Fatalf("no warm spoke on A to begin with: %+v", onA.ev)
				}
				onB := &scripted.Conversation{A: hs[1], User: "test:alice", Policy: scripted.AllowPlanned}
				if cmd == "deny" {
					onB.Policy = scripted.Always(chat.Deny)
					onB.Send(ctx, read)
				} else {
					onB.Send(ctx, cmd)
				}
				if listening {
					deadline := time.Now().Add(5 * time.Second)
					for onA.count(vocab.TraceWarmDrop) == 0 && time.Now().Before(deadline) {
						time.Sleep(20 * time.Millisecond)
					}
					if onA.count(vocab.TraceWarmDrop) == 0 {
						t.Fatalf("A kept alice's warm server after %s on B", cmd)
					}
				}
				alice.Send(ctx, read)
				if n := onA.count(vocab.TraceSpokeReuse); n != 1 {
					t.Fatalf("after %s on B, A's next call reused the old server (%d reuses)", cmd, n)
				}
			})
		}
	}
}
