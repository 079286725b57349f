package hubtest

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/isc"
)

// TestInProcessSpoke runs quick_ride's direct call through an in-process
// spoke, speaking the hub's side of ISC by hand.
func TestInProcessSpoke(t *testing.T) {
	sp, err := InProcess().Start(context.Background(), hub.SpokeSpec{App: "quick_ride", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	c := isc.NewConn(sp.Conn(), isc.HubSide, 0)
	f, err := c.Recv()
	if err != nil || f.Kind != isc.KindReady {
		t.Fatalf("first frame %v, %v; want ready", f.Kind, err)
	}
	task := isc.Task{Instruction: "fare", Function: "quick_ride", Direct: true, Args: json.RawMessage(`{"start_point":"a","end_point":"b"}`)}
	if err := c.Send(isc.KindInit, isc.Init{App: "quick_ride", Task: task, MaxSteps: 1}); err != nil {
		t.Fatal(err)
	}
	f, err = c.Recv()
	if err != nil || f.Kind != isc.KindFinal {
		t.Fatalf("frame %v (%s), %v; want final", f.Kind, f.Body, err)
	}
	var fin isc.Final
	if err := f.Decode(&fin); err != nil || len(fin.Result) == 0 {
		t.Fatalf("final %+v, %v; want a result", fin, err)
	}
	sp.Kill("done")
	if err := sp.Wait(); err != nil {
		t.Fatalf("wait after final: %v", err)
	}
	if got := sp.KillReason(); got != "done" {
		t.Fatalf("kill reason %q", got)
	}
}

// TestInProcessSpokeEnds: a kill, a timeout or a broken task ends the
// spoke's goroutine, and Wait reports what happened.
func TestInProcessSpokeEnds(t *testing.T) {
	tests := []struct {
		name       string
		pol        hub.SpokeSpec
		init       *isc.Init // sent after ready; nil sends nothing
		kill       string
		noReady    bool // the spoke may be gone before its ready frame is read
		wantReason string
		wantErr    string // in Wait's error; "" wants nil
	}{
		{name: "killed before init", pol: hub.SpokeSpec{App: "quick_ride"}, kill: "request cancelled", wantReason: "request cancelled", wantErr: "read init"},
		{name: "timeout", pol: hub.SpokeSpec{App: "quick_ride", Timeout: 50 * time.Millisecond}, noReady: true, wantReason: "wall-clock timeout 50ms", wantErr: "in-process spoke"},
		{name: "unknown app", pol: hub.SpokeSpec{App: "no_such_app"}, init: &isc.Init{App: "no_such_app", MaxSteps: 1}, wantErr: "load app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp, err := InProcess().Start(context.Background(), tt.pol)
			if err != nil {
				t.Fatal(err)
			}
			c := isc.NewConn(sp.Conn(), isc.HubSide, 0)
			if f, err := c.Recv(); !tt.noReady && (err != nil || f.Kind != isc.KindReady) {
				t.Fatalf("first frame %v, %v; want ready", f.Kind, err)
			}
			if tt.init != nil {
				if err := c.Send(isc.KindInit, *tt.init); err != nil {
					t.Fatal(err)
				}
				f, err := c.Recv()
				if err != nil || f.Kind != isc.KindSpokeError {
					t.Fatalf("frame %v, %v; want spoke_error", f.Kind, err)
				}
			}
			if tt.kill != "" {
				sp.Kill(tt.kill)
			}
			werr := sp.Wait()
			if tt.wantErr == "" && werr != nil || tt.wantErr != "" && (werr == nil || !strings.Contains(werr.Error(), tt.wantErr)) {
				t.Fatalf("wait: %v, want %q", werr, tt.wantErr)
			}
			if got := sp.KillReason(); got != tt.wantReason {
				t.Fatalf("kill reason %q, want %q", got, tt.wantReason)
			}
			sp.Kill("again")
			if got := sp.KillReason(); got != tt.wantReason && tt.wantReason != "" {
				t.Fatalf("second kill replaced the reason: %q", got)
			}
		})
	}
}

// TestInProcessRefusesProcessPolicies: what only a process can confine is
// never run unconfined.
func TestInProcessRefusesProcessPolicies(t *testing.T) {
	for _, p := range []hub.SpokeSpec{
		{App: "mcp_thing", AllowExec: true},
		{App: "files", Mounts: []hub.Mount{{Source: "/etc"}}},
	} {
		if sp, err := InProcess().Start(context.Background(), p); err == nil {
			sp.Kill("test")
			_ = sp.Wait()
			t.Errorf("policy %+v started in-process", p)
		}
	}
}

// TestProductionCannotSelectInProcess: the secgpt binary does not link this
// package, so no configuration can choose unconfined spokes.
func TestProductionCannotSelectInProcess(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/secgpt-go/secgpt/cmd/secgpt").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/secgpt-go/secgpt/core/hubtest" {
			t.Fatal("cmd/secgpt links core/hubtest")
		}
	}
	if !strings.Contains(string(out), "github.com/secgpt-go/secgpt/core/hub\n") {
		t.Fatalf("go list output does not look like cmd/secgpt's dependencies:\n%.500s", out)
	}
}
