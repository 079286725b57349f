package slack

import (
	"context"
	"time"
)

// ThreadStore keeps what the adapter knows about threads where every
// replica and a restarted process see it: which threads are AI assistant
// threads, which were titled, which channel threads the bot was mentioned
// in. state.Store satisfies it. The keys hold channel ids and timestamps,
// never message text.
type ThreadStore interface {
	// SetMark records key until ttl has passed.
	SetMark(ctx context.Context, key string, ttl time.Duration) error
	// HasMark reports whether key is recorded and unexpired.
	HasMark(ctx context.Context, key string) (bool, error)
	// FirstSeen records key and reports whether this call was the first.
	FirstSeen(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// threadTTL is how long a thread is remembered after its last mark. Slack
// keeps assistant threads in the user's history indefinitely; a month
// covers a conversation picked up again after a holiday without keeping
// every thread forever.
const threadTTL = 30 * 24 * time.Hour

// Keys of the marks, per channel/thread.
const (
	markAssistant = "slack:assistant:" // an AI assistant thread
	markTitled    = "slack:titled:"    // an assistant thread given its title
	markThread    = "slack:thread:"    // a channel thread the bot takes part in
)

// memThreads is the ThreadStore used without a store: bounded sets in this
// process's memory, lost at a restart.
type memThreads struct{ marks, seen *seenSet }

func newMemThreads(size int) *memThreads {
	return &memThreads{marks: newSeenSet(size), seen: newSeenSet(size)}
}

func (m *memThreads) SetMark(_ context.Context, key string, _ time.Duration) error {
	m.marks.first(key)
	return nil
}

func (m *memThreads) HasMark(_ context.Context, key string) (bool, error) {
	return m.marks.has(key), nil
}

func (m *memThreads) FirstSeen(_ context.Context, key string, _ time.Duration) (bool, error) {
	return m.seen.first(key), nil
}

// markThread records that channel/thread is of the given kind. A store
// error is logged: the thread then behaves as an ordinary one.
func (a *Adapter) markThread(ctx context.Context, kind, channel, thread string) {
	if err := a.cfg.Threads.SetMark(ctx, kind+channel+"/"+thread, threadTTL); err != nil {
		a.log.Warn("slack thread not remembered", "kind", kind, "channel", channel, "err", err)
	}
}

// threadMarked reports whether channel/thread was marked as kind. A store
// error counts as "no", and is logged.
func (a *Adapter) threadMarked(ctx context.Context, kind, channel, thread string) bool {
	if thread == "" {
		return false
	}
	ok, err := a.cfg.Threads.HasMark(ctx, kind+channel+"/"+thread)
	if err != nil {
		a.log.Warn("slack thread lookup failed", "kind", kind, "channel", channel, "err", err)
	}
	return ok
}

// firstTitle reports whether channel/thread has not been titled yet, and
// records that it now is. On a store error it answers yes: a title set
// twice is harmless.
func (a *Adapter) firstTitle(ctx context.Context, channel, thread string) bool {
	first, err := a.cfg.Threads.FirstSeen(ctx, markTitled+channel+"/"+thread, threadTTL)
	if err != nil {
		a.log.Warn("slack thread title lookup failed", "channel", channel, "err", err)
		return true
	}
	return first
}
