package hub

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRunningGate: a write for a request either ends before the stop that
// cancels the request (the stop waits for it) or is refused after it;
// another user's requests are not stopped.
func TestRunningGate(t *testing.T) {
	r := newRunning()
	alice, bob := &turn{user: "test:alice"}, &turn{user: "test:bob"}
	actx, aend := r.start(context.Background(), alice)
	bctx, bend := r.start(context.Background(), bob)
	defer bend()

	inWrite, letGo := make(chan struct{}), make(chan struct{})
	wrote := make(chan error, 1)
	go func() {
		wrote <- r.keep(actx, func() error {
			close(inWrite)
			<-letGo
			return nil
		})
	}()
	<-inWrite
	stopping := make(chan []<-chan struct{}, 1)
	go func() { stopping <- r.stop("test:alice") }()
	select {
	case <-stopping:
		t.Fatal("stop returned while a write of the request was in progress")
	case <-time.After(50 * time.Millisecond):
	}
	close(letGo)
	if err := <-wrote; err != nil {
		t.Fatalf("the write in progress: %v", err)
	}
	dones := <-stopping
	if len(dones) != 1 {
		t.Fatalf("stop returned %d requests, want alice's one", len(dones))
	}
	if err := r.keep(actx, func() error { t.Error("a write ran after the stop"); return nil }); !errors.Is(err, errForgotten) {
		t.Errorf("keep after the stop = %v, want errForgotten", err)
	}
	if !stopped(actx) || stopped(bctx) {
		t.Errorf("stopped: alice %v (want true), bob %v (want false)", stopped(actx), stopped(bctx))
	}
	if err := r.keep(bctx, func() error { return nil }); err != nil {
		t.Errorf("bob's write after alice's stop: %v", err)
	}
	select {
	case <-dones[0]:
		t.Fatal("the request counts as ended before it ended")
	default:
	}
	aend()
	<-dones[0]
	if n := len(r.stop("test:alice")); n != 0 {
		t.Errorf("an ended request was stopped again (%d)", n)
	}
}

// TestRunningHold: while a forget of a user is in progress, the user's
// requests wait to start (another user's do not), a second forget of the
// user waits for the first, and a request whose caller went away stops
// waiting.
func TestRunningHold(t *testing.T) {
	r := newRunning()
	ctx := context.Background()
	waiting := func(c <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-c:
			t.Fatalf("%s while a forget of the user was in progress", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
	release := r.hold(ctx, "test:alice")
	started := make(chan struct{})
	go func() {
		_, end := r.start(ctx, &turn{user: "test:alice"})
		close(started)
		end()
	}()
	_, bend := r.start(ctx, &turn{user: "test:bob"}) // does not wait
	bend()
	waiting(started, "a request started")
	release()
	release() // once only
	<-started

	release = r.hold(ctx, "test:alice")
	held := make(chan struct{})
	go func() {
		r.hold(ctx, "test:alice")()
		close(held)
	}()
	waiting(held, "a second forget began")
	release()
	<-held

	release = r.hold(ctx, "test:alice")
	defer release()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	rctx, end := r.start(cctx, &turn{user: "test:alice"})
	defer end()
	if rctx.Err() == nil {
		t.Error("a request whose caller went away runs")
	}
}
