package stdin

import (
	"bytes"
	"io"
	"sync"
)

// Bracketed paste (xterm, and every terminal in common use since): once
// the editor writes pasteOn, the terminal wraps pasted text in pasteStart
// and pasteEnd. The line editor redraws the whole line for every
// character it is given, so a paste fed to it character by character
// costs the square of its size (20 KB took 21 s, 2 MB never ended); a
// paste taken out of the input before the editor sees it costs its size.
var (
	pasteOn    = []byte("\x1b[?2004h")
	pasteOff   = []byte("\x1b[?2004l")
	pasteStart = []byte("\x1b[200~")
	pasteEnd   = []byte("\x1b[201~")
)

// pastedLine is one line of a paste.
type pastedLine struct {
	text []byte
	// over: the line was longer than the limit; its text was dropped.
	over bool
}

// pasteReader stands between the terminal and the line editor. Typed
// input passes through; a bracketed paste is held back, split into lines
// (bounded by max bytes each, so a paste of any size costs no more memory
// than max per line), and replaced by one Enter, which makes the editor
// return what was typed before the paste; the editor then takes the paste
// with take. It is read by the editor's reading goroutine only; take may
// be called from another.
type pasteReader struct {
	r   io.Reader
	max int
	buf []byte

	// Owned by the reading goroutine.
	out     []byte // bytes for the editor, returned before reading more
	tail    []byte // the end of the last read, which may start a marker
	inPaste bool
	cur     []pastedLine // the paste being read

	mu     sync.Mutex // guards pastes
	pastes [][]pastedLine
}

func newPasteReader(r io.Reader, max int) *pasteReader {
	return &pasteReader{r: r, max: max, buf: make([]byte, 64<<10)}
}

// Read gives the editor typed input, with one "\r" in place of each
// complete paste.
func (p *pasteReader) Read(b []byte) (int, error) {
	for len(p.out) == 0 {
		n, err := p.r.Read(p.buf)
		if n > 0 {
			p.feed(p.buf[:n])
		}
		if err != nil {
			if len(p.out) > 0 {
				break
			}
			return 0, err
		}
	}
	n := copy(b, p.out)
	p.out = p.out[n:]
	return n, nil
}

// Close closes the terminal reader when it can be closed (readline's
// cancelable stdin), so that closing the editor ends a blocked Read.
func (p *pasteReader) Close() error {
	if c, ok := p.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// take returns the pastes read since the last call, oldest first.
func (p *pasteReader) take() [][]pastedLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps := p.pastes
	p.pastes = nil
	return ps
}

func (p *pasteReader) feed(b []byte) {
	data := append(p.tail, b...)
	p.tail = nil
	for len(data) > 0 {
		marker := pasteStart
		if p.inPaste {
			marker = pasteEnd
		}
		i := bytes.Index(data, marker)
		if i < 0 {
			// Keep what may be the start of a marker split across reads.
			k := partialSuffix(data, marker)
			p.pass(data[:len(data)-k])
			p.tail = append([]byte(nil), data[len(data)-k:]...)
			return
		}
		p.pass(data[:i])
		data = data[i+len(marker):]
		if !p.inPaste {
			p.inPaste, p.cur = true, []pastedLine{{}}
			continue
		}
		p.inPaste = false
		p.mu.Lock()
		p.pastes = append(p.pastes, p.cur)
		p.mu.Unlock()
		p.cur = nil
		p.out = append(p.out, '\r')
	}
}

// pass passes typed bytes on to the editor, or adds pasted ones to the
// current paste.
func (p *pasteReader) pass(b []byte) {
	if !p.inPaste {
		p.out = append(p.out, b...)
		return
	}
	for i, c := range b {
		last := &p.cur[len(p.cur)-1]
		switch {
		case c == '\n' && i > 0 && b[i-1] == '\r':
			// The second byte of a CRLF line end.
		case c == '\r' || c == '\n':
			p.cur = append(p.cur, pastedLine{})
		case last.over:
		case len(last.text) >= p.max:
			last.text, last.over = nil, true
		default:
			last.text = append(last.text, c)
		}
	}
}

// partialSuffix is the length of the longest end of data that is a
// proper start of marker.
func partialSuffix(data, marker []byte) int {
	for k := min(len(marker)-1, len(data)); k > 0; k-- {
		if bytes.HasPrefix(marker, data[len(data)-k:]) {
			return k
		}
	}
	return 0
}

// joinPaste prepends typed (what was on the edited line when the paste
// came) to the pastes' first line and joins the pastes into lines; the
// last line has no line end yet. A line over max bytes is marked over.
func joinPaste(typed string, pastes [][]pastedLine, max int) []pastedLine {
	lines := []pastedLine{{text: []byte(typed)}}
	for _, ps := range pastes {
		for j, l := range ps {
			if j > 0 {
				lines = append(lines, pastedLine{})
			}
			last := &lines[len(lines)-1]
			if l.over || last.over || len(last.text)+len(l.text) > max {
				last.text, last.over = nil, true
				continue
			}
			last.text = append(last.text, l.text...)
		}
	}
	return lines
}
