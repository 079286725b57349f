package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// jsonLines is stderr under log.format: json. Lines that are JSON objects
// (slog's records) pass through; any other line (a banner, an error
// printed with fmt, flag usage) becomes one JSON record with the text as
// "msg", so a log collector reading stderr never sees a non-JSON line.
type jsonLines struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
	now func() time.Time
}

func newJSONLines(w io.Writer) *jsonLines { return &jsonLines{w: w, now: time.Now} }

// Write implements io.Writer; a partial line waits for its newline (or
// Flush).
func (j *jsonLines) Write(p []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.buf = append(j.buf, p...)
	for {
		i := bytes.IndexByte(j.buf, '\n')
		if i < 0 {
			break
		}
		line := j.buf[:i]
		if err := j.emit(line); err != nil {
			return len(p), err
		}
		j.buf = j.buf[i+1:]
	}
	return len(p), nil
}

// Flush writes a pending partial line.
func (j *jsonLines) Flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.buf) == 0 {
		return nil
	}
	err := j.emit(j.buf)
	j.buf = nil
	return err
}

func (j *jsonLines) emit(line []byte) error {
	t := bytes.TrimSpace(line)
	if len(t) == 0 {
		return nil
	}
	if t[0] == '{' && json.Valid(t) {
		_, err := j.w.Write(append(append([]byte(nil), t...), '\n'))
		return err
	}
	msg := string(t)
	level := "INFO"
	// Our error lines are "secgpt: …" or "secgpt <command>: …".
	if strings.HasPrefix(msg, "secgpt") && strings.Contains(msg, ": ") && !strings.HasPrefix(msg, "secgpt: an LLM") {
		level = "ERROR"
	}
	rec := struct {
		Time  string `json:"time"`
		Level string `json:"level"`
		Msg   string `json:"msg"`
	}{j.now().Format(time.RFC3339Nano), level, msg}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = j.w.Write(append(b, '\n'))
	return err
}

// printBanner writes the startup banner to stderr: as text, or under
// log.format: json as one structured record.
func printBanner(errOut io.Writer, format string, log *slog.Logger, d *deployment) {
	if format != "json" {
		io.WriteString(errOut, d.Banner())
		return
	}
	mode := "secgpt"
	if d.vanilla {
		mode = "vanilla"
	}
	names := make([]string, len(d.apps))
	for i, a := range d.apps {
		names[i] = string(a)
	}
	log.Info("SecGPT-Go started", "mode", mode, "model", d.modelDesc, "store", d.Store.Describe(), "sandbox", d.sandbox, "apps", names)
}
