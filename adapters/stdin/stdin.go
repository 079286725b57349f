// Package stdin is the terminal adapter: one local user chatting through
// standard input and output. Permission prompts are shown as numbered
// choices and answered by typing the number.
//
// Only bot/ imports it.
package stdin

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// Adapter runs a terminal chat.
type Adapter struct {
	in   io.Reader
	out  io.Writer
	user ids.UserID
	conv ids.ConversationID

	mu      sync.Mutex // guards out writes and pending
	pending []chat.Prompt
}

// New returns a terminal adapter for the local user name.
func New(in io.Reader, out io.Writer, name string) *Adapter {
	if name == "" {
		name = "local"
	}
	return &Adapter{in: in, out: out, user: ids.UserID("terminal:" + name), conv: "terminal"}
}

// User returns the SecGPT user the terminal speaks as.
func (a *Adapter) User() ids.UserID { return a.user }

// Run reads lines until EOF or ctx ends. A line answers the oldest waiting
// prompt if there is one; otherwise it is a message. Messages are handled
// one at a time, in order.
func (a *Adapter) Run(ctx context.Context, as chat.Assistant) error {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(a.in)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	queue := make(chan chat.Message, 64)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m := range queue {
			as.Handle(ctx, m, a)
			a.printf("\nyou> ")
		}
	}()
	defer wg.Wait()
	defer close(queue)
	a.printf("you> ")
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case line, ok := <-lines:
			if !ok {
				return nil
			}
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			if p, ok := a.oldestPending(); ok {
				d, valid := chat.ParseDecision(line)
				if !valid {
					a.printf("Please answer 1, 2, 3 or 4 (%s).\n", choices())
					continue
				}
				if err := as.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: a.user, Decision: d}); err != nil {
					a.printf("That answer changed nothing: %v\n", err)
				}
				continue
			}
			if line == "/quit" || line == "!quit" || line == "exit" {
				return nil
			}
			select {
			case queue <- chat.Message{User: a.user, Conversation: a.conv, Text: line, EventID: ""}:
			default:
				a.printf("Too many queued messages; this one was dropped.\n")
			}
		}
	}
}

func (a *Adapter) oldestPending() (chat.Prompt, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pending) == 0 {
		return chat.Prompt{}, false
	}
	return a.pending[0], true
}

func (a *Adapter) printf(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fmt.Fprintf(a.out, format, args...)
}

func choices() string {
	var parts []string
	for i, d := range chat.Decisions {
		parts = append(parts, fmt.Sprintf("%d) %s", i+1, d.Label()))
	}
	return strings.Join(parts, "  ")
}

// Reply prints the answer.
func (a *Adapter) Reply(_ context.Context, text string) error {
	a.printf("\nsecgpt> %s\n", text)
	return nil
}

// Prompt prints a permission prompt with numbered choices.
func (a *Adapter) Prompt(_ context.Context, p chat.Prompt) error {
	a.mu.Lock()
	a.pending = append(a.pending, p)
	a.mu.Unlock()
	a.printf("\n[permission] %s\n  %s\nAnswer 1-4: ", indent(p.Text()), choices())
	return nil
}

// Resolved prints the outcome of a prompt and stops waiting for it.
func (a *Adapter) Resolved(_ context.Context, p chat.Prompt, d chat.Decision, by ids.UserID, expired bool) error {
	a.mu.Lock()
	for i, q := range a.pending {
		if q.ID == p.ID {
			a.pending = append(a.pending[:i], a.pending[i+1:]...)
			break
		}
	}
	a.mu.Unlock()
	if expired {
		a.printf("[permission] no answer in time: denied.\n")
		return nil
	}
	a.printf("[permission] %s.\n", d.Label())
	return nil
}

// Status prints progress.
func (a *Adapter) Status(_ context.Context, text string) error {
	if text != "" {
		a.printf("(%s)\n", text)
	}
	return nil
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }

var (
	_ chat.ResolvingConversation = (*Adapter)(nil)
	_ chat.StatusConversation    = (*Adapter)(nil)
)
