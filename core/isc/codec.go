package isc

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// DefaultMaxFrame is the frame size cap used when a Conn is given none. It
// bounds what one spoke can make the hub allocate per frame.
const DefaultMaxFrame = 1 << 20

// Errors from reading frames. Any of them ends the spoke that sent the frame.
var (
	// ErrFrameTooLarge: the length prefix exceeds the cap.
	ErrFrameTooLarge = errors.New("isc: frame exceeds size cap")
	// ErrMalformed: the frame is not a JSON object with a known kind and a body.
	ErrMalformed = errors.New("isc: malformed frame")
	// ErrWrongDirection: a frame of a kind the peer may not send.
	ErrWrongDirection = errors.New("isc: frame kind not allowed from this peer")
)

// Side is who reads from a Conn; it decides which kinds are accepted.
type Side int

// Sides.
const (
	// HubSide reads frames from a spoke.
	HubSide Side = iota
	// SpokeSide reads frames from the hub.
	SpokeSide
)

// Conn reads and writes frames over a byte stream (the socketpair).
// Writes are serialised; reads must come from one goroutine.
type Conn struct {
	rw   io.ReadWriteCloser
	r    *bufio.Reader
	side Side
	max  int

	wmu sync.Mutex // guards w and the underlying writer
	w   *bufio.Writer
}

// NewConn wraps rw. max <= 0 means DefaultMaxFrame.
func NewConn(rw io.ReadWriteCloser, side Side, max int) *Conn {
	if max <= 0 {
		max = DefaultMaxFrame
	}
	return &Conn{rw: rw, r: bufio.NewReaderSize(rw, 64<<10), w: bufio.NewWriterSize(rw, 64<<10), side: side, max: max}
}

// Close closes the underlying stream.
func (c *Conn) Close() error { return c.rw.Close() }

// Send encodes body and writes one frame of kind k.
func (c *Conn) Send(k Kind, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("isc: encode %s: %w", k, err)
	}
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("isc: encode %s: body is not a JSON object", k)
	}
	// The frame is written by hand around the encoded body: marshalling a
	// Frame would re-scan and copy the body a second time. Kinds are
	// constants of this package and need no escaping.
	n := len(`{"kind":"","body":}`) + len(k) + len(b)
	if n > c.max {
		return fmt.Errorf("isc: send %s of %d bytes: %w", k, n, ErrFrameTooLarge)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(n))
	_, _ = c.w.Write(hdr[:])
	_, _ = c.w.WriteString(`{"kind":"`)
	_, _ = c.w.WriteString(string(k))
	_, _ = c.w.WriteString(`","body":`)
	_, _ = c.w.Write(b)
	_ = c.w.WriteByte('}')
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("isc: send %s: %w", k, err)
	}
	return nil
}

// Recv reads one frame. Any error other than io.EOF means the peer broke the
// protocol or the stream failed; the caller must stop talking to it.
func (c *Conn) Recv() (Frame, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Frame{}, fmt.Errorf("isc: truncated header: %w", ErrMalformed)
		}
		return Frame{}, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if int64(n) > int64(c.max) {
		return Frame{}, fmt.Errorf("isc: frame of %d bytes, cap %d: %w", n, c.max, ErrFrameTooLarge)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c.r, buf); err != nil {
		return Frame{}, fmt.Errorf("isc: truncated frame: %w", ErrMalformed)
	}
	return DecodeFrame(buf, c.side)
}

// Frame layout. Both ends are this package, so a frame must be exactly
// {"kind":"<kind>","body":<object>}: a fixed layout leaves no room for
// duplicate keys or extra fields that two JSON parsers might read apart.
const (
	framePrefix = `{"kind":"`
	frameMiddle = `","body":`
)

// DecodeFrame parses one frame (without its length prefix) as read by side.
func DecodeFrame(b []byte, side Side) (Frame, error) {
	if !bytes.HasPrefix(b, []byte(framePrefix)) {
		return Frame{}, fmt.Errorf("isc: frame does not start with a kind: %w", ErrMalformed)
	}
	rest := b[len(framePrefix):]
	i := bytes.IndexByte(rest, '"')
	if i <= 0 || i > 64 {
		return Frame{}, fmt.Errorf("isc: bad kind: %w", ErrMalformed)
	}
	kind := Kind(rest[:i])
	rest = rest[i:]
	if !bytes.HasPrefix(rest, []byte(frameMiddle)) {
		return Frame{}, fmt.Errorf("isc: %q frame without a body: %w", kind, ErrMalformed)
	}
	body := rest[len(frameMiddle):]
	if len(body) < 3 || body[0] != '{' || body[len(body)-1] != '}' {
		return Frame{}, fmt.Errorf("isc: %q body is not an object: %w", kind, ErrMalformed)
	}
	body = body[:len(body)-1]
	if !json.Valid(body) {
		return Frame{}, fmt.Errorf("isc: %q body is not valid JSON: %w", kind, ErrMalformed)
	}
	ok := kind.FromHub()
	if side == HubSide {
		ok = kind.FromSpoke()
	}
	if !ok {
		if kind.FromHub() || kind.FromSpoke() {
			return Frame{}, fmt.Errorf("isc: %q: %w", kind, ErrWrongDirection)
		}
		return Frame{}, fmt.Errorf("isc: unknown kind %q: %w", kind, ErrMalformed)
	}
	return Frame{Kind: kind, Body: body}, nil
}

// Decode unmarshals f's body into v strictly (unknown fields are errors).
func (f Frame) Decode(v any) error {
	dec := json.NewDecoder(bytes.NewReader(f.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("isc: decode %s body: %v: %w", f.Kind, err, ErrMalformed)
	}
	return nil
}

// Call sends a request and reads the answer; for the spoke side.
func (c *Conn) Call(k Kind, body any) (Frame, error) {
	if err := c.Send(k, body); err != nil {
		return Frame{}, err
	}
	return c.Recv()
}
