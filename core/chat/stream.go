package chat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// StreamingConversation is a Conversation that can show a reply while it is
// being written (a model's tokens as they arrive): the terminal prints the
// new text, Slack and Matrix edit one message at a rate they accept.
type StreamingConversation interface {
	Conversation
	// StreamReply starts a reply that grows. It may post a placeholder
	// message and blocks on that I/O; the caller then calls Update any
	// number of times and Finish exactly once, from one goroutine.
	StreamReply(ctx context.Context) (ReplyStream, error)
}

// ReplyStream is one reply being written. Text is always the whole reply so
// far (markdown), never a delta: an adapter may skip intermediate updates
// to stay within a platform's rate limits, and a skipped update loses
// nothing.
type ReplyStream interface {
	// Update shows text as the reply so far. It does not wait for rate
	// limits: an update that comes too soon after the last one shown is
	// kept and shown later (or by Finish).
	Update(ctx context.Context, text string) error
	// Finish shows the final text and ends the stream. After Finish the
	// conversation shows exactly what Reply(text) would have shown.
	Finish(ctx context.Context, text string) error
}

// StreamReply writes a reply through c as it arrives on parts (each part is
// appended to the text so far) when c can stream, and as one Reply of the
// whole text otherwise. It returns the whole text and the first error.
func StreamReply(ctx context.Context, c Conversation, parts <-chan string) (string, error) {
	var text string
	sc, ok := c.(StreamingConversation)
	var s ReplyStream
	if ok {
		var err error
		s, err = sc.StreamReply(ctx)
		if err != nil && !errors.Is(err, ErrNotSupported) {
			return "", err
		}
	}
	updating := s != nil
	for p := range parts {
		text += p
		if updating && s.Update(ctx, text) != nil {
			updating = false // a failed edit: wait for Finish to show it all
		}
	}
	if s != nil {
		return text, s.Finish(ctx, text)
	}
	return text, c.Reply(ctx, text)
}

// EmptyAnswer is what a streamed reply finishes with when its text is
// empty, so the placeholder never stays "…".
const EmptyAnswer = "_(empty answer)_"

// EditStream is the ReplyStream of an adapter that shows a growing reply by
// editing one placeholder message: it throttles edits to one per Interval,
// skips edits that would show nothing new, and on Finish shows the final
// text as Reply would (the first message's worth in the placeholder, the
// rest posted after it). M is one platform message as Split produces it
// (Slack: its sections; Matrix: a Markdown chunk).
//
// The platform work is in the callbacks, which are called with the
// stream's lock held, one at a time.
type EditStream[M any] struct {
	// Interval is the least time between two edits.
	Interval time.Duration
	// Split turns the reply so far into the messages it takes; an empty
	// result shows nothing.
	Split func(text string) []M
	// Start, when set, posts the first message shown, and Edit replaces
	// it from then on: there is no placeholder, so the first event (the
	// one a notification shows) holds real text. Until Start succeeds,
	// each edit calls Start again.
	Start func(ctx context.Context, m M) error
	// Edit replaces the placeholder's content with m.
	Edit func(ctx context.Context, m M) error
	// Post sends m, message i+1 of n (i ≥ 1), after the placeholder.
	Post func(ctx context.Context, i, n int, m M) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex // guards the fields below
	last     time.Time
	shown    string // fmt.Sprint of the message last shown
	edited   bool
	started  bool // Start succeeded
	finished bool
}

func (s *EditStream[M]) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Update edits the placeholder to show text's first message when Interval
// has passed since the last edit; otherwise the text waits for a later
// Update or for Finish.
func (s *EditStream[M]) Update(ctx context.Context, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished || (s.edited && s.now().Sub(s.last) < s.Interval) {
		return nil
	}
	msgs := s.Split(text)
	if len(msgs) == 0 {
		return nil
	}
	return s.editLocked(ctx, msgs[0])
}

// Preconditions: s.mu held.
func (s *EditStream[M]) editLocked(ctx context.Context, m M) error {
	key := fmt.Sprint(m)
	if key == s.shown {
		return nil
	}
	// A failed edit counts for the throttle too: the platform saw it.
	s.last, s.edited = s.now(), true
	show := s.Edit
	if s.Start != nil && !s.started {
		show = s.Start
	}
	if err := show(ctx, m); err != nil {
		s.shown = "" // unknown: let the next edit through
		return err
	}
	s.shown = key
	s.started = true
	return nil
}

// Finish shows the whole reply (EmptyAnswer for an empty one) and ends the
// stream; a second Finish is an error.
func (s *EditStream[M]) Finish(ctx context.Context, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return errors.New("streamed reply already finished")
	}
	s.finished = true
	msgs := s.Split(text)
	if len(msgs) == 0 {
		msgs = s.Split(EmptyAnswer)
	}
	if len(msgs) == 0 {
		return errors.New("streamed reply: nothing to show")
	}
	var errs []error
	if err := s.editLocked(ctx, msgs[0]); err != nil {
		errs = append(errs, err)
	}
	for i, m := range msgs[1:] {
		if err := s.Post(ctx, i+1, len(msgs), m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

var _ ReplyStream = (*EditStream[string])(nil)
