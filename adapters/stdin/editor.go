package stdin

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/chzyer/readline"
)

// Editor is a line editor for a real terminal (github.com/chzyer/readline):
// cursor movement, Emacs keys, history across runs, and output written
// through Stdout redrawn around the line being typed, so a reply that
// arrives while the user types does not tear the input apart.
type Editor struct {
	rl  *readline.Instance
	max int
}

// NewEditor starts a line editor on the process's terminal. History is kept
// in historyFile ("" for none), created readable by its owner only since
// requests may hold personal data. Lines longer than max bytes are refused.
func NewEditor(historyFile string, max int) (*Editor, error) {
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
	rl, err := readline.NewEx(&readline.Config{
		Prompt:                 inputPrompt,
		HistoryFile:            historyFile,
		HistoryLimit:           1000,
		DisableAutoSaveHistory: true,
		HistorySearchFold:      true,
		InterruptPrompt:        "^C",
		EOFPrompt:              "",
	})
	if err != nil {
		return nil, fmt.Errorf("start line editor: %w", err)
	}
	return &Editor{rl: rl, max: max}, nil
}

// ReadLine reads one edited line. Ctrl-C clears the line being typed (and
// on an empty line ends input, like Ctrl-D).
func (e *Editor) ReadLine() (string, error) {
	for {
		l, err := e.rl.Readline()
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
		// Permission answers ("1" … "4") are not worth recalling.
		if len(l) > 1 {
			_ = e.rl.SaveHistory(l)
		}
		return l, nil
	}
}

// SetPrompt changes the input prompt and redraws it.
func (e *Editor) SetPrompt(p string) {
	e.rl.SetPrompt(p)
	e.rl.Refresh()
}

// Stdout is where chat output goes while the editor runs.
func (e *Editor) Stdout() io.Writer { return e.rl.Stdout() }

// Close restores the terminal.
func (e *Editor) Close() error { return e.rl.Close() }

var _ PromptingLineReader = (*Editor)(nil)

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return readline.IsTerminal(int(f.Fd())) }
