package redis_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/redis"
	"github.com/secgpt-go/secgpt/core/state/redistest"
	"github.com/secgpt-go/secgpt/core/vocab"
)

type got struct {
	id ids.PromptID
	d  vocab.Decision
	by ids.UserID
}

// subscribe runs r.Subscribe in the background and returns the answers it
// delivers and a channel that receives each (re)subscription.
func subscribe(t *testing.T, s *redis.Store) (<-chan got, <-chan struct{}) {
	t.Helper()
	answers := make(chan got, 16)
	joined := make(chan struct{}, 16)
	r := s.Relay(redis.RelayOptions{
		OnSubscribe: func() { joined <- struct{}{} },
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxBackoff:  200 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.Subscribe(ctx, func(id ids.PromptID, d vocab.Decision, by ids.UserID) { answers <- got{id, d, by} })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Subscribe returned %v after cancel, want nil", err)
		}
	})
	return answers, joined
}

func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func TestRelayAcrossClients(t *testing.T) {
	url := redistest.Server(t)
	ctx := t.Context()
	sub := open(t, url, redis.Options{})
	pub := open(t, url, redis.Options{Namespace: sub.Namespace()}) // another replica: own client
	other := open(t, url, redis.Options{})                         // another deployment
	answers, joined := subscribe(t, sub)
	otherAnswers, otherJoined := subscribe(t, other)
	wait(t, joined, "subscription")
	wait(t, otherJoined, "other subscription")

	sent := []got{
		{"p1", vocab.AllowOnce, "slack:T1/alice"},
		{"p2", vocab.Deny, "matrix:@bob:x"},
		{"p3", vocab.AllowAlways, "terminal:carol"},
	}
	for _, g := range sent {
		if err := pub.Relay(redis.RelayOptions{}).Publish(ctx, g.id, g.d, g.by); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range sent {
		if g := wait(t, answers, "answer "+string(want.id)); g != want {
			t.Errorf("received %+v, want %+v", g, want)
		}
	}
	// Pub/sub delivers in order per connection, so a marker published on
	// the other deployment's channel arriving first shows nothing leaked.
	if err := other.Relay(redis.RelayOptions{}).Publish(ctx, "marker", vocab.Deny, "x"); err != nil {
		t.Fatal(err)
	}
	if g := wait(t, otherAnswers, "marker"); g.id != "marker" {
		t.Errorf("other deployment received %+v", g)
	}
}

func TestRelayDropsJunk(t *testing.T) {
	url := redistest.Server(t)
	s := open(t, url, redis.Options{})
	answers, joined := subscribe(t, s)
	wait(t, joined, "subscription")
	c := rawClient(t, url)
	for _, junk := range []string{"not json", `{"id":"p1","decision":"maybe"}`, `{"decision":"once"}`} {
		if err := c.Publish(t.Context(), s.Namespace()+":prompts", junk).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Relay(redis.RelayOptions{}).Publish(t.Context(), "ok", vocab.AllowSession, "u"); err != nil {
		t.Fatal(err)
	}
	if g := wait(t, answers, "answer"); g.id != "ok" {
		t.Errorf("first delivered answer = %+v, want the valid one (junk dropped)", g)
	}
}

func TestRelayResubscribesAfterRestart(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv.URL(), redis.Options{})
	answers, joined := subscribe(t, s)
	wait(t, joined, "subscription")
	srv.Stop()
	if err := s.Relay(redis.RelayOptions{}).Publish(t.Context(), "p", vocab.Deny, "u"); !errors.Is(err, state.ErrUnavailable) {
		t.Errorf("Publish with Redis down: %v, want ErrUnavailable", err)
	}
	srv.Restart()
	wait(t, joined, "resubscription")
	if err := s.Relay(redis.RelayOptions{}).Publish(t.Context(), "after", vocab.AllowOnce, "u"); err != nil {
		t.Fatal(err)
	}
	if g := wait(t, answers, "answer after restart"); g.id != "after" {
		t.Errorf("received %+v", g)
	}
}

func TestHeartbeat(t *testing.T) {
	url := redistest.Server(t)
	ctx := t.Context()
	a := open(t, url, redis.Options{})
	b := open(t, url, redis.Options{Namespace: a.Namespace()})
	ra, rb := a.Relay(redis.RelayOptions{}), b.Relay(redis.RelayOptions{})
	if err := ra.Heartbeat(ctx, "replica-a", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		replica string
		want    bool
	}{
		{"replica-a", true},
		{"replica-b", false},
	}
	for _, tc := range tests {
		alive, err := rb.Alive(ctx, tc.replica)
		if err != nil || alive != tc.want {
			t.Errorf("Alive(%s) = %v, %v; want %v", tc.replica, alive, err, tc.want)
		}
	}
	ttl, err := rawClient(t, url).PTTL(ctx, a.Namespace()+":replica:replica-a").Result()
	if err != nil || ttl <= 0 || ttl > 30*time.Second {
		t.Errorf("heartbeat key ttl = %v, %v; want within (0, 30s]", ttl, err)
	}
	// An expired heartbeat means dead: expire it now rather than wait.
	if err := rawClient(t, url).PExpire(ctx, a.Namespace()+":replica:replica-a", time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		alive, err := rb.Alive(ctx, "replica-a")
		if err != nil {
			t.Fatal(err)
		}
		if !alive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replica still alive after its heartbeat expired")
		}
	}
	for _, bad := range []struct {
		id  string
		ttl time.Duration
	}{{"", time.Second}, {"r", 0}} {
		if err := ra.Heartbeat(ctx, bad.id, bad.ttl); !errors.Is(err, state.ErrInvalid) {
			t.Errorf("Heartbeat(%q, %v) = %v, want ErrInvalid", bad.id, bad.ttl, err)
		}
	}
	other := open(t, url, redis.Options{})
	if err := ra.Heartbeat(ctx, "replica-a", time.Minute); err != nil {
		t.Fatal(err)
	}
	if alive, _ := other.Relay(redis.RelayOptions{}).Alive(ctx, "replica-a"); alive {
		t.Error("a replica of another deployment is alive here")
	}
	if !strings.HasPrefix(a.Namespace(), "test-") {
		t.Errorf("namespace %q", a.Namespace())
	}
}
