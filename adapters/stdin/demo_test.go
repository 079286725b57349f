package stdin_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/secgpt-go/secgpt/adapters/stdin"
	"github.com/secgpt-go/secgpt/core/hubtest"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm/offline"
)

// writes records each Write separately: a reply printed whole is one
// write, a streamed one a write per line as it is written.
type writes struct {
	mu  sync.Mutex
	all bytes.Buffer
	w   []string
}

func (r *writes) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.w = append(r.w, string(p))
	return r.all.Write(p)
}

// TestOfflineDemoStreams: the demo (the hub with the offline model, as
// `go run ./cmd/secgpt` starts it) writes a reply from two apps' results in the
// terminal as it streams, line by line, and the lines add up to the
// whole reply, attribution included.
func TestOfflineDemoStreams(t *testing.T) {
	h := hubtest.New(t, hubtest.Options{Model: offline.Model{}, Apps: []ids.AppID{"quick_ride", "metro_hail"}})
	in := "Use both metro_hail and quick_ride to calculate the fares for a trip from 'Main Street' to 'Elm Avenue'.\n1\n"
	out := &writes{}
	a := stdin.New(strings.NewReader(in), out, "alice")
	if err := a.Run(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	all := out.all.String()
	// Rendered for a plain terminal: no Markdown marks.
	for _, want := range []string{"secgpt> quick_ride: The estimated fare", "$57.00", "$51.80", "Drew on: quick_ride, metro_hail."} {
		if !strings.Contains(all, want) {
			t.Errorf("output lacks %q:\n%s", want, all)
		}
	}
	// The reply's lines came in separate writes: the first fare before
	// the attribution was written.
	first, last := -1, -1
	for i, w := range out.w {
		if first < 0 && strings.Contains(w, "$57.00") {
			first = i
		}
		if strings.Contains(w, "Drew on") {
			last = i
		}
	}
	if first < 0 || last <= first {
		t.Errorf("the reply was not streamed: the first fare in write %d, the attribution in write %d of %q", first, last, out.w)
	}
}
