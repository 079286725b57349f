package sandbox

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestSpokeOutput(t *testing.T) {
	tests := []struct {
		name  string
		in    []string
		want  []string // substrings of the log, in order
		avoid []string
	}{
		{"lines", []string{"one\ntw", "o\n"}, []string{"line=one", "line=two"}, nil},
		{"escape sequences", []string{"\x1b[2J\x1b[Hsecgpt> fake prompt\n"}, []string{`line="?[2J?[Hsecgpt> fake prompt"`}, []string{"\x1b"}},
		{"bounded", []string{strings.Repeat("x", maxSpokeOutput+100) + "\nafter\n"}, []string{"spoke output truncated"}, []string{"after"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			o := &spokeOutput{p: &Proc{app: "evil"}, log: slog.New(slog.NewTextHandler(&buf, nil))}
			for _, w := range tc.in {
				if n, err := o.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			got := buf.String()
			at := 0
			for _, w := range tc.want {
				i := strings.Index(got[at:], w)
				if i < 0 {
					t.Fatalf("log lacks %q (in order):\n%s", w, got)
				}
				at += i + len(w)
			}
			for _, a := range tc.avoid {
				if strings.Contains(got, a) {
					t.Fatalf("log contains %q", a)
				}
			}
			if !strings.Contains(got, "app=evil") {
				t.Fatalf("log does not name the app:\n%s", got)
			}
		})
	}
}
