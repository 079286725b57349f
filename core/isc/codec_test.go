package isc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

type rwc struct {
	io.Reader
	io.Writer
}

func (rwc) Close() error { return nil }

func frameBytes(payload string) []byte {
	var b bytes.Buffer
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(payload)))
	b.Write(hdr[:])
	b.WriteString(payload)
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	a, b := net.Pipe()
	hub := NewConn(a, HubSide, 0)
	spoke := NewConn(b, SpokeSide, 0)
	go func() {
		_ = spoke.Send(KindProbe, Probe{Function: "metro_hail"})
	}()
	f, err := hub.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var p Probe
	if err := f.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if f.Kind != KindProbe || p.Function != "metro_hail" {
		t.Fatalf("got %s %+v", f.Kind, p)
	}
}

func TestRecvRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		side Side
		want error
	}{
		{"oversized", func() []byte { var h [4]byte; binary.BigEndian.PutUint32(h[:], 1<<30); return h[:] }(), HubSide, ErrFrameTooLarge},
		{"not json", frameBytes("hello"), HubSide, ErrMalformed},
		{"unknown kind", frameBytes(`{"kind":"shell","body":{}}`), HubSide, ErrMalformed},
		{"hub kind from spoke", frameBytes(`{"kind":"init","body":{}}`), HubSide, ErrWrongDirection},
		{"spoke kind from hub", frameBytes(`{"kind":"probe_request","body":{}}`), SpokeSide, ErrWrongDirection},
		{"body not object", frameBytes(`{"kind":"probe_request","body":"x"}`), HubSide, ErrMalformed},
		{"missing body", frameBytes(`{"kind":"probe_request"}`), HubSide, ErrMalformed},
		{"unknown field", frameBytes(`{"kind":"probe_request","body":{},"from":"other_app"}`), HubSide, ErrMalformed},
		{"trailing", frameBytes(`{"kind":"probe_request","body":{}}{}`), HubSide, ErrMalformed},
		{"duplicate kind", frameBytes(`{"kind":"probe_request","kind":"init","body":{}}`), HubSide, ErrMalformed},
		{"reordered keys", frameBytes(`{"body":{},"kind":"probe_request"}`), HubSide, ErrMalformed},
		{"whitespace", frameBytes(`{ "kind":"probe_request","body":{}}`), HubSide, ErrMalformed},
		{"truncated", frameBytes(`{"kind":"probe_request","body":{}}`)[:10], HubSide, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewConn(rwc{Reader: bytes.NewReader(tt.in), Writer: io.Discard}, tt.side, 4096)
			_, err := c.Recv()
			if !errors.Is(err, tt.want) {
				t.Fatalf("Recv() error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecodeStrictBody(t *testing.T) {
	f, err := DecodeFrame([]byte(`{"kind":"app_request","body":{"function":"x","args":{},"caller":"mail"}}`), HubSide)
	if err != nil {
		t.Fatal(err)
	}
	var r AppRequest
	if err := f.Decode(&r); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Decode with a forged caller field: err = %v, want ErrMalformed", err)
	}
}

func TestSendRefusesOversized(t *testing.T) {
	var buf bytes.Buffer
	c := NewConn(rwc{Reader: strings.NewReader(""), Writer: &buf}, SpokeSide, 64)
	err := c.Send(KindFinal, Final{Text: strings.Repeat("x", 100)})
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("wrote %d bytes of an oversized frame", buf.Len())
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(`{"kind":"probe_request","body":{"function":"x"}}`), true)
	f.Add([]byte(`{"kind":"init","body":{"app":"a","task":{"instruction":"i"},"max_steps":3}}`), false)
	f.Add([]byte(`{"kind":"model_request","body":{"messages":[{"role":"user","content":"hi"}]}}`), true)
	f.Add([]byte(`nonsense`), true)
	f.Fuzz(func(t *testing.T, b []byte, hub bool) {
		side := SpokeSide
		if hub {
			side = HubSide
		}
		fr, err := DecodeFrame(b, side)
		if err != nil {
			return
		}
		if side == HubSide && !fr.Kind.FromSpoke() || side == SpokeSide && !fr.Kind.FromHub() {
			t.Fatalf("accepted kind %q on side %d", fr.Kind, side)
		}
		var m map[string]any
		_ = fr.Decode(&m)
	})
}

func FuzzRecv(f *testing.F) {
	f.Add(frameBytes(`{"kind":"final_response","body":{"text":"ok"}}`))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := NewConn(rwc{Reader: bytes.NewReader(b), Writer: io.Discard}, HubSide, 4096)
		for i := 0; i < 8; i++ {
			if _, err := c.Recv(); err != nil {
				return
			}
		}
	})
}
