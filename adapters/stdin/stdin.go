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
	"slices"
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

	mu      sync.Mutex // guards out writes and the fields below
	pending []chat.Prompt
	busy    bool
	wake    chan struct{} // closed and replaced when pending or busy change
}

// New returns a terminal adapter for the local user name.
func New(in io.Reader, out io.Writer, name string) *Adapter {
	if name == "" {
		name = "local"
	}
	return &Adapter{in: in, out: out, user: ids.UserID("terminal:" + name), conv: "terminal", wake: make(chan struct{})}
}

// User returns the SecGPT user the terminal speaks as.
func (a *Adapter) User() ids.UserID { return a.user }

// Run reads lines until EOF or ctx ends. A line answers the oldest waiting
// prompt if there is one; otherwise it is a message. Messages are handled
// one at a time: while one is being answered, the next line waits until a
// prompt appears (it is then the answer) or the answer is posted. At EOF,
// prompts still waiting are denied, since nobody is left to answer them.
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
	var wg sync.WaitGroup
	defer wg.Wait()
	a.printf("you> ")
	for {
		var line string
		select {
		case <-ctx.Done():
			return ctx.Err()
		case l, ok := <-lines:
			if !ok {
				a.denyPending(ctx, as)
				return nil
			}
			line = strings.TrimSpace(l)
		}
		if line == "" {
			continue
		}
		if !a.waitTurn(ctx) {
			return ctx.Err()
		}
		if p, ok := a.oldestPending(); ok {
			d, valid := chat.ParseDecision(line)
			if !valid || !slices.Contains(p.Choices(), d) {
				a.printf("Please answer %s (%s).\n", numbers(len(p.Choices())), choices(p))
				continue
			}
			if err := as.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: a.user, Decision: d}); err != nil {
				a.printf("That answer changed nothing: %v\n", err)
			}
			a.dropPending(p.ID)
			continue
		}
		if line == "/quit" || line == "!quit" || line == "exit" {
			return nil
		}
		a.setBusy(true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			as.Handle(ctx, chat.Message{User: a.user, Conversation: a.conv, Text: line}, a)
			a.setBusy(false)
			a.printf("\nyou> ")
		}()
	}
}

// waitTurn blocks while a message is in flight and no prompt waits.
func (a *Adapter) waitTurn(ctx context.Context) bool {
	for {
		a.mu.Lock()
		ready := !a.busy || len(a.pending) > 0
		wake := a.wake
		a.mu.Unlock()
		if ready {
			return true
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return false
		}
	}
}

// setBusy records whether a message is in flight and wakes waitTurn.
func (a *Adapter) setBusy(b bool) {
	a.mu.Lock()
	a.busy = b
	a.signalLocked()
	a.mu.Unlock()
}

// signalLocked wakes every waitTurn. Preconditions: a.mu held.
func (a *Adapter) signalLocked() {
	close(a.wake)
	a.wake = make(chan struct{})
}

func (a *Adapter) denyPending(ctx context.Context, as chat.Assistant) {
	for {
		if !a.waitTurn(ctx) {
			return
		}
		p, ok := a.oldestPending()
		if !ok {
			a.mu.Lock()
			busy := a.busy
			a.mu.Unlock()
			if !busy {
				return
			}
			continue
		}
		a.printf("(input closed: denying)\n")
		_ = as.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: a.user, Decision: chat.Deny})
		a.dropPending(p.ID)
	}
}

// dropPending forgets a prompt and, if it was the one on screen, shows the
// next one: prompts are shown one at a time, so a typed number always
// answers the prompt the user just read.
func (a *Adapter) dropPending(id ids.PromptID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, q := range a.pending {
		if q.ID == id {
			a.pending = append(a.pending[:i], a.pending[i+1:]...)
			if i == 0 && len(a.pending) > 0 {
				a.showLocked(a.pending[0])
			}
			a.signalLocked()
			return
		}
	}
}

// showLocked prints a prompt. Preconditions: a.mu held.
func (a *Adapter) showLocked(p chat.Prompt) {
	fmt.Fprintf(a.out, "\n[permission] %s\n  %s\nAnswer 1-%d: ", indent(p.Text()), choices(p), len(p.Choices()))
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

// numbers lists 1..n for a hint: "1, 2, 3 or 4".
func numbers(n int) string {
	var parts []string
	for i := 1; i < n; i++ {
		parts = append(parts, fmt.Sprint(i))
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(" or %d", n)
}

// choices numbers the prompt's choices; a plan prompt has a fifth,
// "Review steps one by one".
func choices(p chat.Prompt) string {
	var parts []string
	for i, d := range p.Choices() {
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
	defer a.mu.Unlock()
	a.pending = append(a.pending, p)
	if len(a.pending) == 1 {
		a.showLocked(p)
	}
	a.signalLocked()
	return nil
}

// Resolved prints the outcome of a prompt and stops waiting for it.
func (a *Adapter) Resolved(_ context.Context, p chat.Prompt, d chat.Decision, by ids.UserID, expired bool) error {
	a.dropPending(p.ID)
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
