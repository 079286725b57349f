package hubtest

import (
	"context"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/chat/scripted"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/vocab"
)

func TestMain(m *testing.M) { Main(m) }

// TestNewSpokes: New's spokes are in-process unless the test asks for
// sandboxed ones by name; then they are processes other than the test's.
func TestNewSpokes(t *testing.T) {
	tests := []struct {
		name        string
		o           Options
		wantProcess bool
	}{
		{name: "default", o: Options{}},
		{name: "sandboxed", o: Options{Sandboxed: true}, wantProcess: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var pids []int
			tt.o.Apps = []ids.AppID{"quick_ride"}
			tt.o.Trace = func(e hub.TraceEvent) {
				if e.Type == vocab.TraceSpokeStart {
					mu.Lock()
					pids = append(pids, e.PID)
					mu.Unlock()
				}
			}
			c := &scripted.Conversation{A: New(t, tt.o), User: "test:alice", Policy: scripted.Always(chat.AllowOnce)}
			if reply := c.Send(context.Background(), "quick_ride fare from 'Main Street' to 'Elm Avenue'"); !strings.Contains(reply, "$57.00") {
				t.Fatalf("reply %q", reply)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(pids) != 1 {
				t.Fatalf("%d spokes started, want 1", len(pids))
			}
			if got := pids[0] > 0 && pids[0] != os.Getpid(); got != tt.wantProcess {
				t.Fatalf("spoke PID %d (test %d): a process of its own %v, want %v", pids[0], os.Getpid(), got, tt.wantProcess)
			}
		})
	}
}

// TestInProcessRefusesProcessOptions: an option only a sandboxed process
// honours is refused in-process, not ignored, so a test of it cannot pass
// without it.
func TestInProcessRefusesProcessOptions(t *testing.T) {
	dial := func(context.Context, string, string) (net.Conn, error) { return nil, nil }
	tests := []struct {
		name    string
		o       Options
		wantErr string // "" wants the in-process spawner
	}{
		{name: "default", o: Options{}},
		{name: "egress dialer", o: Options{EgressDial: dial}, wantErr: "EgressDial needs Sandboxed"},
		{name: "limits", o: Options{Limits: hub.SpokeLimits{Procs: 8}}, wantErr: "Limits need Sandboxed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp, err := spawnerFor(t, tt.o)
			if tt.wantErr == "" {
				if _, ok := sp.(inProcess); err != nil || !ok {
					t.Fatalf("spawner %T, %v; want in-process", sp, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("spawner %T, %v; want an error %q", sp, err, tt.wantErr)
			}
		})
	}
}
