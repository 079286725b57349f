package stdin

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"unicode/utf8"

	"github.com/chzyer/readline"
)

// Editor is a line editor for a real terminal (github.com/chzyer/readline):
// cursor movement, Emacs keys, history across runs, and output written
// through Stdout redrawn around the line being typed, so a reply that
// arrives while the user types does not tear the input apart. Pastes are
// taken whole (paste.go), never character by character.
type Editor struct {
	rl  *readline.Instance
	max int
	in  *pasteReader
	out io.Writer

	// Used by ReadLine's caller only.
	queued []pastedLine // lines of a paste not yet returned
	draft  string       // a paste's unfinished last line, put back to edit
}

// NewEditor starts a line editor on the process's terminal. History is kept
// in historyFile ("" for none), created readable by its owner only since
// requests may hold personal data. Lines longer than max bytes are refused.
func NewEditor(historyFile string, max int) (*Editor, error) {
	return newEditor(os.Stdin, os.Stdout, historyFile, max)
}

// newEditor is NewEditor on the terminal in and out (a pty in tests).
func newEditor(in, out *os.File, historyFile string, max int) (*Editor, error) {
	if max <= 0 {
		max = DefaultMaxLine
	}
	if historyFile != "" {
		f, err := os.OpenFile(historyFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open history file: %w", err)
		}
		_ = f.Close()
	}
	inFD, outFD := int(in.Fd()), int(out.Fd())
	raw := &rawMode{fd: inFD}
	pr := newPasteReader(readline.NewCancelableStdin(in), max)
	rl, err := readline.NewEx(&readline.Config{
		Prompt:                 inputPrompt,
		HistoryFile:            historyFile,
		HistoryLimit:           1000,
		DisableAutoSaveHistory: true,
		HistorySearchFold:      true,
		InterruptPrompt:        "^C",
		EOFPrompt:              "",
		Stdin:                  pr,
		Stdout:                 out,
		Stderr:                 out,
		FuncIsTerminal:         func() bool { return readline.IsTerminal(inFD) && readline.IsTerminal(outFD) },
		FuncGetWidth: func() int {
			w, _, err := readline.GetSize(outFD)
			if err != nil {
				return -1
			}
			return w
		},
		FuncMakeRaw: raw.enter,
		FuncExitRaw: raw.exit,
	})
	if err != nil {
		return nil, fmt.Errorf("start line editor: %w", err)
	}
	_, _ = out.Write(pasteOn)
	return &Editor{rl: rl, max: max, in: pr, out: out}, nil
}

// ReadLine reads one edited line. Ctrl-C clears the line being typed (and
// on an empty line ends input, like Ctrl-D). A paste joins the line being
// typed; each of its complete lines is returned in turn (shown once,
// shortened if long), and its last, unfinished line is put back on the
// edited line, to finish and send with Enter.
func (e *Editor) ReadLine() (string, error) {
	for {
		if len(e.queued) > 0 {
			l := e.queued[0]
			e.queued = e.queued[1:]
			if l.over {
				return "", ErrLineTooLong
			}
			fmt.Fprintf(e.rl.Stdout(), "%s%s\n", inputPrompt, shortened(string(l.text)))
			return e.accept(string(l.text)), nil
		}
		l, err := e.rl.ReadlineWithDefault(e.draft)
		e.draft = ""
		if ps := e.in.take(); err == nil && len(ps) > 0 {
			// The Enter in place of the paste ended l, the typed start of
			// the paste's first line.
			lines := joinPaste(l, ps, e.max)
			if last := lines[len(lines)-1]; !last.over {
				e.draft, lines = string(last.text), lines[:len(lines)-1]
			}
			e.queued = lines
			continue
		}
		switch {
		case errors.Is(err, readline.ErrInterrupt):
			if l == "" {
				return "", io.EOF
			}
			continue
		case err != nil:
			return "", err
		case len(l) > e.max:
			return "", ErrLineTooLong
		}
		return e.accept(l), nil
	}
}

// maxHistoryLine bounds the lines kept in the history file: a long paste
// is not worth recalling, and would make every later start read it.
const maxHistoryLine = 4 << 10

// accept records l in the history and returns it.
func (e *Editor) accept(l string) string {
	// Permission answers ("1" … "4") are not worth recalling.
	if len(l) > 1 && len(l) <= maxHistoryLine {
		_ = e.rl.SaveHistory(l)
	}
	return l
}

// shortened is a pasted line as echoed: its start, and its size when long.
func shortened(l string) string {
	const keep = 200
	if len(l) <= keep {
		return l
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(l[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes pasted)", l[:cut], len(l))
}

// rawMode puts the editor's terminal in raw mode and back. Readline enters
// it from the reading goroutine and leaves it from Close's.
type rawMode struct {
	fd int

	mu    sync.Mutex // guards state
	state *readline.State
}

func (r *rawMode) enter() error {
	st, err := readline.MakeRaw(r.fd)
	r.mu.Lock()
	r.state = st
	r.mu.Unlock()
	return err
}

func (r *rawMode) exit() error {
	r.mu.Lock()
	st := r.state
	r.mu.Unlock()
	if st == nil {
		return nil
	}
	return readline.Restore(r.fd, st)
}

// SetPrompt changes the input prompt and redraws it.
func (e *Editor) SetPrompt(p string) {
	e.rl.SetPrompt(p)
	e.rl.Refresh()
}

// Stdout is where chat output goes while the editor runs.
func (e *Editor) Stdout() io.Writer { return e.rl.Stdout() }

// Close restores the terminal.
func (e *Editor) Close() error {
	_, _ = e.out.Write(pasteOff)
	// readline closes only its own buffer in front of Stdin, so its
	// reading goroutine would wait for a key forever.
	_ = e.in.Close()
	return e.rl.Close()
}

var _ PromptingLineReader = (*Editor)(nil)

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return readline.IsTerminal(int(f.Fd())) }
