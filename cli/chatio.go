package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/secgpt-go/secgpt/adapters/stdin"
	"github.com/secgpt-go/secgpt/config"
)

// chatLogPath is where the terminal chat logs when stderr is the chat's
// terminal: beside the bolt file, in the private state directory.
func chatLogPath(cfg config.Config) string {
	return filepath.Join(filepath.Dir(cfg.Store.Path), "secgpt.log")
}

// chatLogger returns the logger for the terminal chat. A log line written
// to the terminal the user is typing on would land inside the chat (and
// between a prompt and its answer), so when stderr is that terminal the
// log goes to a file instead and path names it; when stderr is redirected
// (a file, a pipe, another terminal than stdout's) it stays there.
func chatLogger(cfg config.Config, in io.Reader, out, errOut io.Writer) (log *slog.Logger, path string, closeLog func(), err error) {
	if !sameTerminal(errOut, in, out) {
		return newLogger(cfg.Log, errOut), "", func() {}, nil
	}
	path = chatLogPath(cfg)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, "", nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, "", nil, fmt.Errorf("open log file: %w", err)
	}
	log = newLogger(cfg.Log, f)
	// Libraries that log through the log package or slog's default end up
	// in the file too, not on the chat's screen.
	slog.SetDefault(log)
	return log, path, func() { _ = f.Close() }, nil
}

// sameTerminal reports whether w is a terminal that in or out also is.
func sameTerminal(w io.Writer, in io.Reader, out io.Writer) bool {
	wf, ok := w.(*os.File)
	if !ok || !stdin.IsTerminal(wf) {
		return false
	}
	ws, err := wf.Stat()
	if err != nil {
		return false
	}
	for _, x := range []any{in, out} {
		if f, ok := x.(*os.File); ok && stdin.IsTerminal(f) {
			if fs, err := f.Stat(); err == nil && os.SameFile(ws, fs) {
				return true
			}
		}
	}
	return false
}

// chatEditor starts a line editor when stdin and stdout are a terminal; it
// returns nil (plain line reading) otherwise, e.g. when input is piped.
func chatEditor(cfg config.Config, in io.Reader, out io.Writer, log *slog.Logger) *stdin.Editor {
	inF, ok1 := in.(*os.File)
	outF, ok2 := out.(*os.File)
	if !ok1 || !ok2 || inF != os.Stdin || outF != os.Stdout || !stdin.IsTerminal(inF) || !stdin.IsTerminal(outF) {
		return nil
	}
	hist := filepath.Join(filepath.Dir(cfg.Store.Path), "chat_history")
	if err := os.MkdirAll(filepath.Dir(hist), 0o700); err != nil {
		hist = ""
	}
	ed, err := stdin.NewEditor(hist, stdin.DefaultMaxLine)
	if err != nil {
		log.Warn("no line editing: reading plain lines", "err", err)
		return nil
	}
	return ed
}

// suggestedPrompts are offered in new Slack assistant threads: an
// introduction, the examples the hub knows to work with the installed apps,
// and the grants command (Slack shows the first four).
func (d *deployment) suggestedPrompts() []string {
	out := []string{"What can you do?"}
	if d.hub != nil {
		out = append(out, d.hub.Examples()...)
	}
	if len(out) > 3 {
		out = out[:3]
	}
	return append(out, "!grants")
}
