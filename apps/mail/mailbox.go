package mail

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/secgpt-go/secgpt/apps/appstate"
	"github.com/secgpt-go/secgpt/apps/internal/kit"
)

//go:embed fixture/mailbox.json
var defaultMailbox []byte

// Mailbox is the local backend's mailbox file.
type Mailbox struct {
	// Owner is the mailbox owner's address (the sender of sent mail).
	Owner    string    `json:"owner"`
	Messages []Message `json:"messages"`
}

// Message is one email of a Mailbox (also what Gmail answers are turned
// into for display).
type Message struct {
	ID       string    `json:"id"`
	ThreadID string    `json:"thread_id"`
	Date     time.Time `json:"date"`
	From     string    `json:"from"`
	To       []string  `json:"to"`
	Cc       []string  `json:"cc,omitempty"`
	Subject  string    `json:"subject"`
	Labels   []string  `json:"labels,omitempty"`
	Body     string    `json:"body"`
}

// Mailbox file limits: a fixture, not a mail store.
const (
	maxMailboxBytes = 16 << 20
	maxMessages     = 10000
)

// ParseMailbox decodes and checks a mailbox file: every message needs a
// unique ID; a missing thread ID becomes the message ID.
func ParseMailbox(b []byte) (Mailbox, error) {
	var mb Mailbox
	if len(b) > maxMailboxBytes {
		return mb, fmt.Errorf("mailbox: %d bytes is over the %d limit", len(b), maxMailboxBytes)
	}
	if err := json.Unmarshal(b, &mb); err != nil {
		return mb, fmt.Errorf("mailbox: %w", err)
	}
	if len(mb.Messages) > maxMessages {
		return mb, fmt.Errorf("mailbox: %d messages is over the %d limit", len(mb.Messages), maxMessages)
	}
	seen := map[string]bool{}
	for i := range mb.Messages {
		m := &mb.Messages[i]
		if m.ID == "" {
			return mb, fmt.Errorf("mailbox: message %d has no id", i)
		}
		if seen[m.ID] {
			return mb, fmt.Errorf("mailbox: duplicate message id %q", m.ID)
		}
		seen[m.ID] = true
		if m.ThreadID == "" {
			m.ThreadID = m.ID
		}
	}
	return mb, nil
}

// DefaultMailbox returns the embedded fixture mailbox.
func DefaultMailbox() (Mailbox, error) { return ParseMailbox(defaultMailbox) }

func loadMailbox(path string) (Mailbox, error) {
	if path == "" {
		return DefaultMailbox()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Mailbox{}, fmt.Errorf("read mailbox: %w", err)
	}
	return ParseMailbox(b)
}

// local is the fixture backend. Its state (sent mail, deleted IDs) lives in
// the app state so that it survives the spoke, which ends after one call.
type local struct {
	mb  Mailbox
	st  appstate.ReadWriter
	now func() time.Time
}

// visible returns the messages not deleted, newest first (ties by ID).
func (l *local) visible(ctx context.Context) ([]Message, error) {
	del, err := Deleted(ctx, l.st)
	if err != nil {
		return nil, err
	}
	out := make([]Message, 0, len(l.mb.Messages))
	for _, m := range l.mb.Messages {
		if !slices.Contains(del, m.ID) {
			out = append(out, m)
		}
	}
	sortNewest(out)
	return out, nil
}

func sortNewest(ms []Message) {
	slices.SortStableFunc(ms, func(a, b Message) int {
		if c := b.Date.Compare(a.Date); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
}

// query is a parsed search: Gmail-style operators and free words.
type query struct {
	from, to, subject []string
	terms             []string
}

func parseQuery(q string) query {
	var out query
	var free []string
	for _, tok := range strings.Fields(q) {
		op, val, ok := strings.Cut(tok, ":")
		val = strings.ToLower(strings.Trim(val, `"'`))
		switch {
		case ok && val != "" && strings.EqualFold(op, "from"):
			out.from = append(out.from, val)
		case ok && val != "" && strings.EqualFold(op, "to"):
			out.to = append(out.to, val)
		case ok && val != "" && strings.EqualFold(op, "subject"):
			out.subject = append(out.subject, val)
		case ok && slices.Contains([]string{"in", "is", "label", "category", "newer_than", "older_than", "after", "before", "has"}, strings.ToLower(op)):
			// Mailbox-state operators: every fixture message counts as
			// being in the inbox, so they select nothing away.
		default:
			free = append(free, tok)
		}
	}
	out.terms = kit.Terms(strings.Join(free, " "))
	return out
}

func containsAll(hay string, needles []string) bool {
	hay = strings.ToLower(hay)
	for _, n := range needles {
		if !strings.Contains(hay, n) {
			return false
		}
	}
	return true
}

// match filters ms (already newest first) by q. Operators must all hold.
// Free words rank: messages holding every word win; if none does, those
// holding any word are returned; a query with no meaningful word ("newest
// email") selects every message. This is looser than Gmail's AND so that a
// model's wordy query still finds something.
func (q query) match(ms []Message) []Message {
	var ops []Message
	for _, m := range ms {
		if containsAll(m.From, q.from) && containsAll(strings.Join(append(slices.Clone(m.To), m.Cc...), " "), q.to) &&
			containsAll(m.Subject, q.subject) {
			ops = append(ops, m)
		}
	}
	if len(q.terms) == 0 {
		return ops
	}
	var all, some []Message
	for _, m := range ops {
		words := map[string]bool{}
		for _, w := range kit.Words(m.From + " " + strings.Join(m.To, " ") + " " + m.Subject + " " + m.Body) {
			words[w] = true
		}
		n := 0
		for _, t := range q.terms {
			if words[t] {
				n++
			}
		}
		switch {
		case n == len(q.terms):
			all = append(all, m)
		case n > 0:
			some = append(some, m)
		}
	}
	if len(all) > 0 {
		return all
	}
	return some
}

func (l *local) search(ctx context.Context, q string, threads bool, max int) (string, error) {
	ms, err := l.visible(ctx)
	if err != nil {
		return "", err
	}
	found := parseQuery(q).match(ms)
	if threads {
		return renderThreads(q, groupThreads(found, max)), nil
	}
	if len(found) > max {
		found = found[:max]
	}
	return renderMessages(q, found), nil
}

// groupThreads groups newest-first messages into threads ordered by their
// newest message, at most max threads.
func groupThreads(ms []Message, max int) []thread {
	var out []thread
	at := map[string]int{}
	for _, m := range ms {
		i, ok := at[m.ThreadID]
		if !ok {
			if len(out) == max {
				continue
			}
			i = len(out)
			at[m.ThreadID] = i
			out = append(out, thread{ID: m.ThreadID})
		}
		out[i].Messages = append(out[i].Messages, m)
	}
	return out
}

func (l *local) get(ctx context.Context, id string) (string, error) {
	ms, err := l.visible(ctx)
	if err != nil {
		return "", err
	}
	for _, m := range ms {
		if m.ID == id {
			return renderMessage(m, maxContent), nil
		}
	}
	return fmt.Sprintf("No message with ID %q was found.", kit.Truncate(id, 64)), nil
}

func (l *local) send(ctx context.Context, m outgoing) (string, error) {
	prev, err := Sent(ctx, l.st)
	if err != nil {
		return "", err
	}
	s := SentMail{
		ID: fmt.Sprintf("sent-%04d", len(prev)+1), At: l.now().UTC(),
		To: m.To, Cc: m.Cc, Bcc: m.Bcc, Subject: m.Subject, Body: m.Body,
	}
	if err := appstate.Append(ctx, l.st, KeySent, s); err != nil {
		return "", fmt.Errorf("record sent mail: %w", err)
	}
	return fmt.Sprintf("Message sent to %s. Message ID: %s.", strings.Join(m.To, ", "), s.ID), nil
}

func (l *local) remove(ctx context.Context, id string) (string, error) {
	ms, err := l.visible(ctx)
	if err != nil {
		return "", err
	}
	if !slices.ContainsFunc(ms, func(m Message) bool { return m.ID == id }) {
		return fmt.Sprintf("No message with ID %q was found; nothing was deleted.", kit.Truncate(id, 64)), nil
	}
	if err := appstate.Append(ctx, l.st, KeyDeleted, id); err != nil {
		return "", fmt.Errorf("record deletion: %w", err)
	}
	return fmt.Sprintf("Message %s was deleted.", id), nil
}

// thread is a conversation, messages newest first.
type thread struct {
	ID       string
	Messages []Message
}

func header(m Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Message ID: %s (thread %s)\n", m.ID, m.ThreadID)
	if !m.Date.IsZero() {
		fmt.Fprintf(&b, "Date: %s\n", m.Date.UTC().Format(time.RFC1123Z))
	}
	fmt.Fprintf(&b, "From: %s\n", m.From)
	if len(m.To) > 0 {
		fmt.Fprintf(&b, "To: %s\n", strings.Join(m.To, ", "))
	}
	if len(m.Cc) > 0 {
		fmt.Fprintf(&b, "Cc: %s\n", strings.Join(m.Cc, ", "))
	}
	fmt.Fprintf(&b, "Subject: %s\n", m.Subject)
	return b.String()
}

// renderMessage shows one message with its body cut to fit budget.
func renderMessage(m Message, budget int) string {
	h := header(m)
	return h + "\n" + kit.Truncate(strings.TrimSpace(m.Body), max(budget-len([]rune(h))-1, 80)) + "\n"
}

// perItem shares the answer's room among n items: the newest (i == 0),
// the one a "summarise my newest email" wants, gets half of it, the others
// share the rest, each keeping at least a snippet. The whole answer is cut
// at maxContent in the end.
func perItem(i, n int) int {
	room := maxContent - 200
	if n <= 1 {
		return room
	}
	if i == 0 {
		return room / 2
	}
	return max(250, room/2/(n-1))
}

func renderMessages(q string, ms []Message) string {
	if len(ms) == 0 {
		return fmt.Sprintf("No messages match %q.", kit.Truncate(q, 100))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d message(s) matching %q, newest first:\n", len(ms), kit.Truncate(q, 100))
	for i, m := range ms {
		b.WriteString("\n---\n")
		b.WriteString(renderMessage(m, perItem(i, len(ms))))
	}
	return b.String()
}

func renderThreads(q string, ts []thread) string {
	if len(ts) == 0 {
		return fmt.Sprintf("No threads match %q.", kit.Truncate(q, 100))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d thread(s) matching %q, newest first:\n", len(ts), kit.Truncate(q, 100))
	for i, t := range ts {
		if len(t.Messages) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n---\nThread ID: %s (%d message(s)); newest message:\n", t.ID, len(t.Messages))
		b.WriteString(renderMessage(t.Messages[0], perItem(i, len(ts))))
	}
	return b.String()
}

// errNotFound marks a Gmail 404, answered as text rather than an error.
var errNotFound = errors.New("not found")
