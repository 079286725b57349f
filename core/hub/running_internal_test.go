package hub

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRunningGate: a write for a request either ends before the stop that
// cancels the request (the stop waits for it) or is refused after it;
// another user's requests are not stopped, and a turn that is no request
// (nil) writes.
func TestRunningGate(t *testing.T) {
	r := newRunning()
	alice, aend := r.start(context.Background(), "test:alice")
	bob, bend := r.start(context.Background(), "test:bob")
	defer bend()

	// Bob's write in progress does not hold up a stop of alice's requests
	// (a store that hangs for one request stalls no other user's forget).
	bobIn, bobGo := make(chan struct{}), make(chan struct{})
	go func() {
		_ = bob.keep(func() error { close(bobIn); <-bobGo; return nil })
	}()
	<-bobIn
	defer close(bobGo)

	inWrite, letGo := make(chan struct{}), make(chan struct{})
	wrote := make(chan error, 1)
	go func() {
		wrote <- alice.keep(func() error {
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
	if err := alice.keep(func() error { t.Error("a write ran after the stop"); return nil }); !errors.Is(err, errForgotten) {
		t.Errorf("keep after the stop = %v, want errForgotten", err)
	}
	if !stopped(alice.ctx) || stopped(bob.ctx) {
		t.Errorf("stopped: alice %v (want true), bob %v (want false)", stopped(alice.ctx), stopped(bob.ctx))
	}
	if err := bob.keep(func() error { return nil }); err != nil {
		t.Errorf("bob's write after alice's stop: %v", err)
	}
	select {
	case <-dones[0]:
		t.Fatal("the request counts as ended before it ended")
	default:
	}
	aend()
	<-dones[0]
	var none *runningTurn
	if err := none.keep(func() error { return nil }); err != nil {
		t.Errorf("a turn that is no request: %v", err)
	}
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
		_, end := r.start(ctx, "test:alice")
		close(started)
		end()
	}()
	_, bend := r.start(ctx, "test:bob") // does not wait
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
	req, end := r.start(cctx, "test:alice")
	defer end()
	if req.ctx.Err() == nil {
		t.Error("a request whose caller went away runs")
	}
}
