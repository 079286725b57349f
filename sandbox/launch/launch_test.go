package launch

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestFrameRoundTrip(t *testing.T) {
	want := Frame{
		Policy:  Policy{App: "test.app", Timeout: time.Minute, Domains: []string{"example.com"}, Limits: DefaultLimits(), Args: []string{"ready"}},
		Sandbox: true, Nproc: 96, Egress: true,
		Mounts: []FrameMount{{Source: "/srv/data", Target: "/data", Dir: true, FD: 0, Cover: "/srv"}},
	}
	b, err := Encode(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestReadRefuses(t *testing.T) {
	frame := func(body string) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "EOF"},
		{"short header", []byte{0, 0}, "unexpected EOF"},
		{"too large", binary.BigEndian.AppendUint32(nil, MaxFrame+1), "launch frame of"},
		{"short body", frame(`{"sandbox":true}`)[:10], "unexpected EOF"},
		{"not json", frame("not json"), "decode policy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Read = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
