// Package stdin is the terminal adapter: one local user chatting through
// standard input and output. Permission prompts are shown one at a time as
// numbered choices and answered by typing the number; replies are rendered
// from Markdown for a terminal. On a real terminal a line editor (editor.go)
// gives line editing and history.
//
// Only cli/ imports it.
package stdin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// DefaultMaxLine is the longest line (in bytes) taken as one message.
const DefaultMaxLine = 1 << 20

// ErrLineTooLong is returned by a LineReader for a line over its limit; the
// rest of that line has been read and dropped, and the next call reads the
// next line.
var ErrLineTooLong = errors.New("line too long")

// LineReader supplies the lines the user types.
type LineReader interface {
	// ReadLine blocks until a line is typed and returns it without its line
	// ending. It returns io.EOF when input ends and ErrLineTooLong (after
	// dropping the line) for a line over the limit.
	ReadLine() (string, error)
}

// PromptingLineReader is a LineReader that shows its own input prompt
// (a line editor); the adapter then never prints one itself.
type PromptingLineReader interface {
	LineReader
	// SetPrompt changes the input prompt, redrawing it if a line is being
	// edited.
	SetPrompt(p string)
}

// Options configure an Adapter beyond New's defaults.
type Options struct {
	// Lines supplies typed lines; nil reads lines from New's in.
	Lines LineReader
	// MaxLine bounds a line read from in (default DefaultMaxLine).
	MaxLine int
	// Styled renders Markdown emphasis and links with ANSI styles (for a
	// terminal); false renders plain text.
	Styled bool
}

const (
	inputPrompt  = "you> "
	answerPrompt = "answer> "
)

// Adapter runs a terminal chat.
type Adapter struct {
	lines  LineReader
	out    io.Writer
	styled bool
	max    int
	user   ids.UserID
	conv   ids.ConversationID

	mu      sync.Mutex // guards out writes and the fields below
	pending []chat.Prompt
	busy    bool
	wake    chan struct{} // closed and replaced when pending or busy change
}

// New returns a terminal adapter for the local user name reading lines
// from in, with plain (unstyled) output.
func New(in io.Reader, out io.Writer, name string) *Adapter {
	return NewWithOptions(in, out, name, Options{})
}

// NewWithOptions is New with options; in is unused when o.Lines is set.
func NewWithOptions(in io.Reader, out io.Writer, name string, o Options) *Adapter {
	if name == "" {
		name = "local"
	}
	if o.MaxLine <= 0 {
		o.MaxLine = DefaultMaxLine
	}
	lines := o.Lines
	if lines == nil {
		lines = NewLineReader(in, o.MaxLine)
	}
	return &Adapter{lines: lines, out: out, styled: o.Styled, max: o.MaxLine,
		user: ids.UserID("terminal:" + name), conv: "terminal", wake: make(chan struct{})}
}

// User returns the SecGPT user the terminal speaks as.
func (a *Adapter) User() ids.UserID { return a.user }

// lineOrErr is one result of the reading goroutine.
type lineOrErr struct {
	line string
	err  error
}

// Run reads lines until EOF or ctx ends. A line answers the prompt on
// screen if there is one; otherwise it is a message. Messages are handled
// one at a time: while one is being answered, the next line waits until a
// prompt appears (it is then the answer) or the answer is posted. A line
// over the size limit gets an error and the chat goes on. At EOF, prompts
// still waiting are denied, since nobody is left to answer them.
func (a *Adapter) Run(ctx context.Context, as chat.Assistant) error {
	lines := make(chan lineOrErr)
	go func() {
		defer close(lines)
		for {
			l, err := a.lines.ReadLine()
			if err != nil && !errors.Is(err, ErrLineTooLong) {
				return
			}
			select {
			case lines <- lineOrErr{l, err}:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	a.showInputPrompt()
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
			if l.err != nil {
				a.printf("That line is over the %s limit, so it was not sent; please send something shorter.\n", size(a.max))
				a.showInputPrompt()
				continue
			}
			line = strings.TrimSpace(l.line)
		}
		if line == "" {
			a.showInputPrompt()
			continue
		}
		if !a.waitTurn(ctx) {
			return ctx.Err()
		}
		if p, ok := a.oldestPending(); ok {
			if strings.EqualFold(line, showAllKey) && !p.FreeText && valuesShortened(p) {
				if _, ok := a.lines.(PromptingLineReader); ok {
					a.printf("%s\n", allValues(p))
				} else {
					a.printf("\n%s\n%s", allValues(p), answerPrompt)
				}
				continue
			}
			d, valid := p.ParseChoice(line)
			if !valid {
				a.printf("Please answer %s (%s) to: %s\n", numbers(len(p.Choices())), choices(p), chat.PromptTitle(p))
				a.showInputPrompt()
				continue
			}
			if err := as.Answer(ctx, chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: a.user, Decision: d}); err != nil {
				a.printf("That answer changed nothing: %v\n", err)
				a.dropPending(p.ID)
				continue
			}
			// The decision is echoed here, before the next prompt is
			// shown, not when the hub's Resolved comes (after it).
			a.resolve(p, d, false)
			continue
		}
		if line == "/quit" || line == "!quit" || line == "exit" || line == "quit" {
			return nil
		}
		if len(line) == 1 && line[0] >= '1' && line[0] <= '4' {
			// A late answer to a prompt already decided or expired is not
			// a request.
			a.printf("No permission request is waiting, so %q answers nothing. Type a request, or \"hi\" for an introduction.\n", line)
			a.showInputPrompt()
			continue
		}
		a.setBusy(true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			as.Handle(ctx, chat.Message{User: a.user, Conversation: a.conv, Text: line}, a)
			a.setBusy(false)
			a.showInputPrompt()
		}()
	}
}

// showInputPrompt shows "you> " or, while a permission waits, the answer
// prompt.
func (a *Adapter) showInputPrompt() {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := inputPrompt
	if len(a.pending) > 0 {
		p = answerPrompt
	}
	if pr, ok := a.lines.(PromptingLineReader); ok {
		pr.SetPrompt(p)
		return
	}
	if len(a.pending) == 0 && !a.busy {
		fmt.Fprint(a.out, "\n"+p)
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
	a.dropLocked(id)
	a.mu.Unlock()
	a.showInputPrompt()
}

// resolve prints a waiting prompt's outcome and then drops it (showing the
// next), in that order and at once; a prompt no longer waiting (its
// outcome already printed) prints nothing.
func (a *Adapter) resolve(p chat.Prompt, d chat.Decision, expired bool) {
	a.mu.Lock()
	if !slices.ContainsFunc(a.pending, func(q chat.Prompt) bool { return q.ID == p.ID }) {
		a.mu.Unlock()
		return
	}
	if expired {
		fmt.Fprintf(a.out, "[permission] no answer in time: denied: %s\n", chat.PromptTitle(p))
	} else {
		fmt.Fprintf(a.out, "[permission] %s: %s\n", d.Label(), chat.PromptTitle(p))
	}
	a.dropLocked(p.ID)
	a.mu.Unlock()
	a.showInputPrompt()
}

// dropLocked is dropPending's work. Preconditions: a.mu held.
func (a *Adapter) dropLocked(id ids.PromptID) {
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

// showLocked prints a prompt: which one of how many waiting ("1 of N",
// counting the one shown), what it asks, and the choices. Preconditions:
// a.mu held.
func (a *Adapter) showLocked(p chat.Prompt) {
	head := "[permission]"
	if n := len(a.pending); n > 1 {
		head = fmt.Sprintf("[permission 1 of %d; the others follow one at a time]", n)
	}
	var notes []string
	if e := chat.ExpiryText(p.ExpiresAt, time.Now()); e != "" {
		notes = append(notes, e)
	}
	if !p.FreeText && valuesShortened(p) {
		notes = append(notes, fmt.Sprintf("type %s to see every value in full", showAllKey))
	}
	note := ""
	if len(notes) > 0 {
		note = "\n  (" + strings.Join(notes, "; ") + ")"
	}
	if p.FreeText {
		fmt.Fprintf(a.out, "\n%s %s\n  %s%s\nType your answer (or a word above) for: %s\n", a.bold(head), indent(chat.PromptText(p)), choices(p), note, chat.PromptTitle(p))
	} else {
		fmt.Fprintf(a.out, "\n%s %s\n  %s%s\nAnswer 1-%d for: %s\n", a.bold(head), indent(chat.PromptText(p)), choices(p), note, len(p.Choices()), chat.PromptTitle(p))
	}
	if _, ok := a.lines.(PromptingLineReader); !ok {
		fmt.Fprint(a.out, answerPrompt)
	}
}

// showAllKey, typed while a prompt is on screen, shows the values its step
// lines shortened.
const showAllKey = "v"

// valuesShortened reports whether a plan prompt's step lines shorten a value.
func valuesShortened(p chat.Prompt) bool {
	return slices.ContainsFunc(p.Steps, func(s chat.PlanStep) bool { return chat.Shortened(s.Args) })
}

// allValues lists every argument of a plan prompt's steps in full.
func allValues(p chat.Prompt) string {
	var b strings.Builder
	b.WriteString("Every value in full:")
	for _, s := range p.Steps {
		if len(s.Args) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n  step %d (%s):", s.N, chat.AppFunction(s.App, s.Function))
		for _, l := range chat.FullArgs(s.Args) {
			b.WriteString("\n    " + indent(indent(l)))
		}
	}
	return b.String()
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

func (a *Adapter) bold(s string) string {
	if !a.styled {
		return s
	}
	return sgrBold + s + sgrReset
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

// TakesTypedAnswers: the terminal's user answers an app's question by
// typing it.
func (a *Adapter) TakesTypedAnswers() bool { return true }

// Reply prints the answer, rendered from Markdown. The text is neutralised
// here as well as by the hub's wrapper: this adapter writes to a terminal,
// where one escaped ESC less would be one repainted screen more.
func (a *Adapter) Reply(_ context.Context, text string) error {
	a.printf("\n%s %s\n", a.bold("secgpt>"), indentReply(render(chat.Neutralize(text), a.styled)))
	return nil
}

// Prompt queues a permission prompt and shows it if none is on screen.
func (a *Adapter) Prompt(_ context.Context, p chat.Prompt) error {
	p = chat.NeutralizePrompt(p)
	a.mu.Lock()
	a.pending = append(a.pending, p)
	if len(a.pending) == 1 {
		a.showLocked(p)
	} else {
		note := fmt.Sprintf("(%s waiting after this one: this is 1 of %d)\n", requests(len(a.pending)-1), len(a.pending))
		if _, ok := a.lines.(PromptingLineReader); !ok {
			note = "\n" + note + answerPrompt
		}
		fmt.Fprint(a.out, note)
	}
	a.signalLocked()
	a.mu.Unlock()
	a.showInputPrompt()
	return nil
}

// Resolved prints the outcome of a prompt and stops waiting for it, unless
// the typed answer already did.
func (a *Adapter) Resolved(_ context.Context, p chat.Prompt, d chat.Decision, by ids.UserID, expired bool) error {
	a.resolve(chat.NeutralizePrompt(p), d, expired)
	return nil
}

// requests is "1 more permission request" or "N more permission requests".
func requests(n int) string {
	if n == 1 {
		return "1 more permission request"
	}
	return fmt.Sprintf("%d more permission requests", n)
}

// Status prints progress.
func (a *Adapter) Status(_ context.Context, text string) error {
	if text != "" {
		text = "(" + chat.Neutralize(text) + ")"
		if a.styled {
			text = sgrDim + text + sgrReset
		}
		a.printf("%s\n", text)
	}
	return nil
}

// StreamReply starts a reply printed line by line as it is written: each
// complete line is rendered and printed once, the last partial line when
// the reply is finished. Every write ends its line: a line editor redraws
// its prompt after each write, over whatever the write left unfinished
// (the "secgpt>" prefix, written alone, was lost that way).
func (a *Adapter) StreamReply(context.Context) (chat.ReplyStream, error) {
	return &termStream{a: a, r: renderer{styled: a.styled}}, nil
}

// termStream prints a streamed reply. It is used from one goroutine.
type termStream struct {
	a       *Adapter
	r       renderer
	printed int // bytes of the text whose lines are printed
	lines   int
}

func (s *termStream) Update(_ context.Context, text string) error {
	s.flush(chat.Neutralize(text), false)
	return nil
}

func (s *termStream) Finish(_ context.Context, text string) error {
	s.flush(chat.Neutralize(text), true)
	return nil
}

// flush prints the complete lines of text not yet printed (all of it when
// final). A text that does not extend what was printed (a model that
// rewrote its start) is printed from where they differ, on a new line.
func (s *termStream) flush(text string, final bool) {
	if s.printed > len(text) {
		s.printed = 0
	}
	rest := text[s.printed:]
	var b strings.Builder
	for {
		i := strings.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		s.writeLine(&b, rest[:i])
		rest = rest[i+1:]
		s.printed += i + 1
	}
	if final && (rest != "" || s.lines == 0) {
		s.writeLine(&b, rest)
		s.printed += len(rest)
	}
	if b.Len() > 0 {
		s.a.printf("%s", b.String())
	}
}

func (s *termStream) writeLine(b *strings.Builder, l string) {
	out := s.r.line(l)
	if s.lines == 0 {
		b.WriteString("\n" + s.a.bold("secgpt>") + " ")
	} else if out != "" {
		// Indented like Reply's continuation lines; a blank line stays
		// blank, as in indentReply.
		b.WriteString("  ")
	}
	b.WriteString(out + "\n")
	s.lines++
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }

// indentReply indents continuation lines of a reply under its first.
func indentReply(s string) string {
	lines := strings.Split(s, "\n")
	for i := 1; i < len(lines); i++ {
		if lines[i] != "" {
			lines[i] = "  " + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}

// size formats a byte count for messages.
func size(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d-byte", n)
}

// readerLines reads lines from an io.Reader with a size bound.
type readerLines struct {
	r   *bufio.Reader
	max int
}

// NewLineReader returns a LineReader over r that refuses lines longer than
// max bytes (reading and dropping the rest of such a line).
func NewLineReader(r io.Reader, max int) LineReader {
	if max <= 0 {
		max = DefaultMaxLine
	}
	return &readerLines{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

func (l *readerLines) ReadLine() (string, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := l.r.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > l.max+2 { // +2: the line ending
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && (len(buf) == 0 && !tooLong || !errors.Is(err, io.EOF)) {
			return "", err
		}
		break
	}
	line := strings.TrimSuffix(strings.TrimSuffix(string(buf), "\n"), "\r")
	if tooLong || len(line) > l.max {
		return "", ErrLineTooLong
	}
	return line, nil
}

var (
	_ chat.ResolvingConversation = (*Adapter)(nil)
	_ chat.StatusConversation    = (*Adapter)(nil)
	_ chat.StreamingConversation = (*Adapter)(nil)
)
