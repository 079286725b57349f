//go:build linux

package stdin

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/secgpt-go/secgpt/core/chat"
)

// openPTY opens a pseudo-terminal pair: the test writes keystrokes to and
// reads the screen from master; the editor runs on slave as on a real
// terminal (raw mode, window size, bracketed paste).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty slave: %v", err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 100}); err != nil {
		t.Fatalf("set window size: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(); _ = m.Close() })
	return m, s
}

// screen collects everything written to a pty's master side.
type screen struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func readScreen(master *os.File) *screen {
	s := &screen{changed: make(chan struct{})}
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := master.Read(buf)
			s.mu.Lock()
			s.b.Write(buf[:n])
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return s
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the screen shows want, or d has passed.
func (s *screen) waitFor(want string, d time.Duration) bool {
	deadline := time.After(d)
	for {
		s.mu.Lock()
		ok, ch := strings.Contains(s.b.String(), want), s.changed
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// recorder is an assistant that records messages and replies to each.
type recorder struct {
	mu  sync.Mutex
	got []string
	ch  chan string
}

func (r *recorder) Handle(ctx context.Context, m chat.Message, c chat.Conversation) {
	r.mu.Lock()
	r.got = append(r.got, m.Text)
	r.mu.Unlock()
	r.ch <- m.Text
	_ = c.Reply(ctx, fmt.Sprintf("got %d bytes", len(m.Text)))
}

func (r *recorder) Answer(context.Context, chat.Answer) error { return chat.ErrUnknownPrompt }

// ptyChat runs the terminal adapter with its line editor on a pty.
func ptyChat(t *testing.T, as chat.Assistant) (master *os.File, scr *screen) {
	t.Helper()
	master, slave := openPTY(t)
	scr = readScreen(master)
	ed, err := newEditor(slave, slave, "", DefaultMaxLine)
	if err != nil {
		t.Fatal(err)
	}
	a := NewWithOptions(nil, ed.Stdout(), "alice", Options{Lines: ed, Styled: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Run(ctx, as)
	}()
	t.Cleanup(func() {
		cancel()
		_ = ed.Close()
		_ = master.Close()
		<-done
	})
	if !scr.waitFor(inputPrompt, 10*time.Second) {
		t.Fatalf("no input prompt on the terminal: %q", scr.String())
	}
	waitRaw(t, slave)
	return master, scr
}

// waitRaw waits until the editor has put the terminal in raw mode: the
// prompt is drawn just before, and text typed while the terminal is still
// in line mode is held by the kernel up to a line end (a paste's end marker
// follows its last line end), which no user is quick enough to hit.
func waitRaw(t *testing.T, slave *os.File) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatalf("read terminal mode: %v", err)
		}
		if tio.Lflag&unix.ICANON == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the editor never put the terminal in raw mode")
		}
		time.Sleep(time.Millisecond)
	}
}

// type_ writes keystrokes from a goroutine (a large paste blocks until the
// editor reads it).
func type_(t *testing.T, master *os.File, s string) {
	t.Helper()
	go func() { _, _ = master.Write([]byte(s)) }()
}

// pasted is text as a terminal sends a paste: wrapped in the bracketed
// paste markers if the program asked for them (and not since turned them
// off), as it is.
func pasted(scr *screen, text string) string {
	s := scr.String()
	if on := strings.LastIndex(s, string(pasteOn)); on < 0 || strings.LastIndex(s, string(pasteOff)) > on {
		return text
	}
	return string(pasteStart) + text + string(pasteEnd)
}

// TestPasteOnTerminal: a paste on a real terminal is taken whole. The line
// editor alone redraws the line for each pasted character, which took 21 s
// for 20 KB and never ended for 2 MB (measured on main); these bounds (5 s)
// are a quarter of the fastest quadratic case, generous for a loaded
// machine, while the fix takes milliseconds.
func TestPasteOnTerminal(t *testing.T) {
	const bound = 5 * time.Second
	t.Run("20 KB is accepted", func(t *testing.T) {
		rec := &recorder{ch: make(chan string, 4)}
		master, scr := ptyChat(t, rec)
		text := strings.Repeat("0123456789", 2048)
		start := time.Now()
		type_(t, master, "say: "+pasted(scr, text)+"\r")
		select {
		case got := <-rec.ch:
			if got != "say: "+text {
				t.Fatalf("message is %d bytes (%q…), want the typed start and the 20 KB paste", len(got), got[:min(40, len(got))])
			}
		case <-time.After(bound):
			t.Fatalf("20 KB paste not sent within %s", bound)
		}
		t.Logf("20 KB paste sent in %s", time.Since(start))
		if !scr.waitFor("got 20485 bytes", bound) {
			t.Fatalf("no reply on the terminal: %q", tailOf(scr.String()))
		}
	})
	t.Run("2 MB is refused and the chat goes on", func(t *testing.T) {
		rec := &recorder{ch: make(chan string, 4)}
		master, scr := ptyChat(t, rec)
		start := time.Now()
		type_(t, master, pasted(scr, strings.Repeat("x", 2<<20)+"\r"))
		if !scr.waitFor("That line is over the 1 MiB limit, so it was not sent", bound) {
			t.Fatalf("2 MB paste not refused within %s: %q", bound, tailOf(scr.String()))
		}
		t.Logf("2 MB paste refused in %s", time.Since(start))
		type_(t, master, "plain\r")
		select {
		case got := <-rec.ch:
			if got != "plain" {
				t.Fatalf("after the refused paste the assistant got %d bytes, want \"plain\"", len(got))
			}
		case <-time.After(bound):
			t.Fatal("the chat did not go on after the refused paste")
		}
	})
	t.Run("lines of a paste are sent in turn, the unfinished one kept to edit", func(t *testing.T) {
		rec := &recorder{ch: make(chan string, 4)}
		master, scr := ptyChat(t, rec)
		type_(t, master, pasted(scr, "one\r\ntwo\rthr"))
		for _, want := range []string{"one", "two"} {
			select {
			case got := <-rec.ch:
				if got != want {
					t.Fatalf("got %q, want %q", got, want)
				}
			case <-time.After(bound):
				t.Fatalf("%q not sent: %q", want, tailOf(scr.String()))
			}
		}
		type_(t, master, "ee\r")
		select {
		case got := <-rec.ch:
			if got != "three" {
				t.Fatalf("got %q, want the pasted start finished by typing: \"three\"", got)
			}
		case <-time.After(bound):
			t.Fatal("the unfinished pasted line was not kept")
		}
	})
}

// tailOf is the end of a long screen, for failure messages.
func tailOf(s string) string {
	if len(s) > 600 {
		return "…" + s[len(s)-600:]
	}
	return s
}

// hubLike asks two prompts for "go" and, like the hub, reports each
// outcome with Resolved from its own goroutine after the answer came:
// here only once the test lets it (proceed), as on a loaded machine; then
// it streams a reply.
type hubLike struct {
	answers chan chat.Answer
	proceed chan struct{}
}

func (h *hubLike) Handle(ctx context.Context, m chat.Message, c chat.Conversation) {
	ps := []chat.Prompt{
		{ID: "p1", Nonce: "n", User: m.User, Kind: chat.KindExec, Target: "metro_hail"},
		{ID: "p2", Nonce: "n", User: m.User, Kind: chat.KindExec, Target: "quick_ride"},
	}
	for _, p := range ps {
		_ = c.Prompt(ctx, p)
	}
	for _, p := range ps {
		var a chat.Answer
		select {
		case a = <-h.answers:
		case <-ctx.Done():
			return
		}
		select {
		case <-h.proceed:
		case <-ctx.Done():
			return
		}
		_ = c.(chat.ResolvingConversation).Resolved(ctx, p, a.Decision, a.User, false)
	}
	s, _ := c.(chat.StreamingConversation).StreamReply(ctx)
	_ = s.Update(ctx, "Fares")
	_ = s.Update(ctx, "Fares:\n- quick")
	_ = s.Finish(ctx, "Fares:\n- quick\n- metro")
}

func (h *hubLike) Answer(_ context.Context, a chat.Answer) error {
	h.answers <- a
	return nil
}

// TestOrderOnTerminal: on a real terminal, a queued prompt is counted as
// "1 of N" of those waiting, a typed decision is echoed before the next
// prompt appears (however late the hub confirms it), and a streamed reply
// keeps its "secgpt>" prefix on its first line.
func TestOrderOnTerminal(t *testing.T) {
	h := &hubLike{answers: make(chan chat.Answer, 2), proceed: make(chan struct{}, 2)}
	master, scr := ptyChat(t, h)
	const bound = 10 * time.Second
	type_(t, master, "go\r")
	if !scr.waitFor("(1 more permission request waiting after this one: this is 1 of 2)", bound) {
		t.Fatalf("no count of the queued prompt: %q", tailOf(scr.String()))
	}
	type_(t, master, "1\r")
	const next = "[permission]" + sgrReset + " Run app quick_ride?"
	if !scr.waitFor(next, bound) {
		t.Fatalf("the second prompt did not follow: %q", tailOf(scr.String()))
	}
	s := scr.String()
	echo := strings.Index(s, "[permission] Allow once: Run app metro_hail?")
	if echo < 0 || echo > strings.Index(s, next) {
		t.Fatalf("the decision was not echoed before the next prompt: %q", tailOf(s))
	}
	h.proceed <- struct{}{}
	type_(t, master, "4\r")
	if !scr.waitFor("[permission] Deny: Run app quick_ride?", bound) {
		t.Fatalf("no echo of the second decision: %q", tailOf(scr.String()))
	}
	h.proceed <- struct{}{}
	if !scr.waitFor("secgpt>"+sgrReset+" Fares:\r\n", bound) {
		t.Fatalf("the streamed reply lost its prefix: %q", tailOf(scr.String()))
	}
	if !scr.waitFor("  • metro\r\n", bound) {
		t.Fatalf("the streamed reply did not finish: %q", tailOf(scr.String()))
	}
}
