package sandbox

import (
	"bytes"
	"context"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// TestForkServerCarriesNoCallerLabels: the fork server is started by
// whichever spawn comes first and then serves every later one, so its
// goroutines must not carry that first caller's profiler labels. The
// invariant harness finds what an episode left running by its label; a
// fork server started inside an episode made that episode look leaky
// (I5, "goroutines outlived the episode": forkserver.(*Client).read).
func TestForkServerCarriesNoCallerLabels(t *testing.T) {
	s := newSpawner(t, Config{Pool: 0})
	defer s.Close()
	const key, val = "secgpt-test", "first-caller"
	pprof.Do(context.Background(), pprof.Labels(key, val), func(context.Context) {
		if outs, err := run(t, s, Policy{Args: []string{"ready"}}); err != nil || len(outs) != 1 || !outs[0].OK {
			t.Fatalf("outcomes %+v, wait %v", outs, err)
		}
	})
	want := `"` + key + `":"` + val + `"`
	var left string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var b bytes.Buffer
		if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
			t.Fatal(err)
		}
		left = ""
		for _, block := range strings.Split(b.String(), "\n\n") {
			if strings.Contains(block, want) {
				left += block + "\n\n"
			}
		}
		if left == "" || time.Now().After(deadline) {
			break
		}
	}
	if left != "" {
		t.Fatalf("goroutines still carry the first caller's labels after its spoke ended:\n%s", left)
	}
}
