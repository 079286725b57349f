package sandbox

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"unicode"
)

// maxSpokeOutput bounds how much of one spoke's stdout and stderr reaches
// the hub's log.
const maxSpokeOutput = 64 << 10

// spokeOutput receives a spoke's stdout and stderr when Config.Stderr is
// nil. A spoke must not write to the hub's terminal: it could paint a fake
// permission prompt or answer there, or send escape sequences. So each
// line becomes one log record, with control characters replaced, and the
// volume is bounded.
type spokeOutput struct {
	p   *Proc
	log *slog.Logger

	mu    sync.Mutex // guards the fields below
	buf   []byte
	total int
}

func (o *spokeOutput) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(b)
	if o.total >= maxSpokeOutput {
		return n, nil
	}
	if o.total+len(b) > maxSpokeOutput {
		b = b[:maxSpokeOutput-o.total]
	}
	o.total += len(b)
	o.buf = append(o.buf, b...)
	for {
		i := bytes.IndexByte(o.buf, '\n')
		if i < 0 {
			break
		}
		o.emit(o.buf[:i])
		o.buf = o.buf[i+1:]
	}
	if o.total >= maxSpokeOutput {
		o.emit(o.buf)
		o.buf = nil
		o.log.Warn("sandbox: spoke output truncated", "app", o.app(), "limit", maxSpokeOutput)
	}
	return n, nil
}

func (o *spokeOutput) app() string {
	o.p.mu.Lock()
	defer o.p.mu.Unlock()
	return o.p.app
}

// emit logs one line. Preconditions: o.mu held.
func (o *spokeOutput) emit(line []byte) {
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\t' {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(string(line), "?"))
	if strings.TrimSpace(s) != "" {
		o.log.Info("spoke output", "app", o.app(), "line", s)
	}
}
