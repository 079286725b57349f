package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/spoke"
	"github.com/secgpt-go/secgpt/sandbox"
)

// fakeSpoke writes an executable that answers `describe` with script.
func fakeSpoke(t *testing.T, script string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), leanSpokeName)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// describeJSON is this binary's description with change applied.
func describeJSON(t *testing.T, change func(*spoke.Build)) string {
	t.Helper()
	b := spoke.Describe()
	if change != nil {
		change(&b)
	}
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("cat <<'EOF'\n%s\nEOF", out)
}

func TestCheckSpokeBinary(t *testing.T) {
	installed := []ids.AppID{"quick_ride", "search_gmail"}
	tests := []struct {
		name    string
		script  string
		wantErr string // "" means compatible
	}{
		{name: "same build", script: describeJSON(t, nil)},
		{name: "an app that is not installed differs", script: describeJSON(t, func(b *spoke.Build) { b.Apps["metro_hail"] = "other" })},
		{name: "other protocol", script: describeJSON(t, func(b *spoke.Build) { b.Protocol = isc.ProtocolVersion + 1 }), wantErr: "ISC protocol"},
		{name: "installed app declared otherwise", script: describeJSON(t, func(b *spoke.Build) { b.Apps["search_gmail"] = "other" }), wantErr: "apps differ from this hub's: search_gmail"},
		{name: "installed app missing", script: describeJSON(t, func(b *spoke.Build) { delete(b.Apps, "quick_ride") }), wantErr: "quick_ride (missing)"},
		{name: "not a spoke binary", script: "echo hello", wantErr: "not a secgpt-spoke description"},
		{name: "fails", script: "echo broken >&2; exit 3", wantErr: "broken"},
		{name: "sees none of the hub's environment", script: `[ -z "$SECGPT_TEST_SECRET" ] || exit 9; ` + describeJSON(t, nil)},
	}
	t.Setenv("SECGPT_TEST_SECRET", "hub-only")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkSpokeBinary(context.Background(), fakeSpoke(t, tt.script), installed)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSpokeBinaryConfigured(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	ok := fakeSpoke(t, describeJSON(t, nil))
	exe, desc, err := spokeBinary(context.Background(), ok, []ids.AppID{"quick_ride"}, log)
	if err != nil || exe != ok || !strings.Contains(desc, "sandbox.spoke_binary") {
		t.Fatalf("spokeBinary(%s) = %q, %q, %v", ok, exe, desc, err)
	}
	// A configured binary that is refused stops the start: the operator
	// asked for it.
	bad := fakeSpoke(t, describeJSON(t, func(b *spoke.Build) { b.Protocol = -1 }))
	if _, _, err := spokeBinary(context.Background(), bad, []ids.AppID{"quick_ride"}, log); err == nil || !strings.Contains(err.Error(), "sandbox.spoke_binary") {
		t.Fatalf("refused configured binary: err %v, want one naming sandbox.spoke_binary", err)
	}
	if _, _, err := spokeBinary(context.Background(), filepath.Join(t.TempDir(), "absent"), nil, log); err == nil {
		t.Fatal("an absent configured binary was accepted")
	}
	// Without one configured and none beside the test binary: this binary.
	exe, desc, err = spokeBinary(context.Background(), "", nil, log)
	if err != nil || exe != "" || !strings.HasPrefix(desc, "this binary") {
		t.Fatalf("spokeBinary() = %q, %q, %v; want this binary", exe, desc, err)
	}
}

// TestLocalSpokeBinary: secgpt-spoke-local beside the lean spoke binary
// runs the installed apps it declares as this hub does; one that declares
// an installed app otherwise, or speaks another protocol, is refused with
// a warning (spokes then all run from secgpt-spoke), and none is looked
// for when spokes run from this binary.
func TestLocalSpokeBinary(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	installed := []ids.AppID{"quick_ride", "search_gmail"}
	local := func(b *spoke.Build) {
		for id := range b.Apps {
			if id != "quick_ride" && id != "metro_hail" {
				delete(b.Apps, id)
			}
		}
	}
	tests := []struct {
		name     string
		script   string // "" means no secgpt-spoke-local
		wantRuns []string
		wantDesc string
	}{
		{name: "runs what it declares alike", script: describeJSON(t, local), wantRuns: []string{"quick_ride"}, wantDesc: " for quick_ride"},
		{name: "none there", wantDesc: ""},
		{name: "an installed app declared otherwise", script: describeJSON(t, func(b *spoke.Build) { local(b); b.Apps["quick_ride"] = "other" }), wantDesc: "refused: its apps differ from this hub's: quick_ride"},
		{name: "other protocol", script: describeJSON(t, func(b *spoke.Build) { local(b); b.Protocol = -1 }), wantDesc: "refused: it speaks ISC protocol"},
		{name: "none of the installed apps", script: describeJSON(t, func(b *spoke.Build) { b.Apps = map[string]string{} }), wantDesc: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lean := fakeSpoke(t, describeJSON(t, nil))
			want := ""
			if tt.script != "" {
				want = filepath.Join(filepath.Dir(lean), localSpokeName)
				if err := os.WriteFile(want, []byte("#!/bin/sh\n"+tt.script+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if tt.wantRuns == nil {
				want = ""
			}
			got, runs, desc := localSpokeBinary(context.Background(), lean, installed, log)
			if got != want || !slices.Equal(runs, tt.wantRuns) || !strings.Contains(desc, tt.wantDesc) || (tt.wantDesc == "" && desc != "") {
				t.Fatalf("localSpokeBinary = %q, %v, %q; want %q, %v, a description with %q", got, runs, desc, want, tt.wantRuns, tt.wantDesc)
			}
		})
	}
	if got, _, _ := localSpokeBinary(context.Background(), "", installed, log); got != "" {
		t.Fatalf("spokes from this binary, yet a local spoke binary %q", got)
	}
}

// TestLeanSpokeRunsSpokes builds cmd/secgpt-spoke and checks what the hub
// relies on: it describes itself as compatible with this build, its
// sandboxed spokes are it (not the hub's binary), and a chat turn answers
// through it.
func TestLeanSpokeRunsSpokes(t *testing.T) {
	dir := t.TempDir()
	lean := filepath.Join(dir, leanSpokeName)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command builds secgpt-spoke here: %v", err)
	}
	build := exec.CommandContext(ctx, goCmd, "build", "-o", dir+"/",
		"github.com/secgpt-go/secgpt/cmd/secgpt-spoke", "github.com/secgpt-go/secgpt/cmd/secgpt-spoke-local")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/secgpt-spoke ./cmd/secgpt-spoke-local: %v\n%s", err, out)
	}
	if err := checkSpokeBinary(ctx, lean, apps.Registered()); err != nil {
		t.Fatalf("secgpt-spoke built from this tree refused: %v", err)
	}
	local, runs, _ := localSpokeBinary(ctx, lean, apps.Registered(), slog.New(slog.DiscardHandler))
	if local != filepath.Join(dir, localSpokeName) || !slices.Contains(runs, "quick_ride") || slices.Contains(runs, "search_gmail") {
		t.Fatalf("secgpt-spoke-local built from this tree: %q runs %v; want it to run quick_ride and not search_gmail", local, runs)
	}

	spokeConfined(ctx, t, lean)
	spokeConfined(ctx, t, local)

	code, out, errOut := runCLI(t, "quick_ride fare from 'Main Street' to 'Elm Avenue'\n1\n", map[string]string{"SECGPT_SPOKE_BINARY": lean}, "chat")
	if code != 0 || !strings.Contains(out, "spokes:  "+lean) || !strings.Contains(out, " and "+local+" for ") || !strings.Contains(out, "$57.00") {
		t.Fatalf("chat with SECGPT_SPOKE_BINARY=%s: exit %d\nstdout: %s\nstderr: %s", lean, code, out, errOut)
	}
}

// spokeConfined starts one spoke from the binary exe and checks that it is
// that binary, and that once it says it is ready it runs under its seccomp
// filter with no new privileges: each binary hands the sandbox's
// EnterSpoke to core/spoke.Run itself, so each is checked.
func spokeConfined(ctx context.Context, t *testing.T, exe string) {
	t.Helper()
	sp, err := sandbox.New(sandbox.Config{Exe: exe, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	pr, err := sp.Start(ctx, sandbox.Policy{App: "quick_ride"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pr.PID))
	conn := isc.NewConn(pr.Conn, isc.HubSide, 0)
	f, rerr := conn.Recv()
	status, serr := os.ReadFile(fmt.Sprintf("/proc/%d/status", pr.PID))
	pr.Kill("test done")
	_ = pr.Wait()
	if err != nil || got != exe {
		t.Fatalf("spoke runs %q (%v), want %s", got, err, exe)
	}
	if rerr != nil || f.Kind != isc.KindReady {
		t.Fatalf("first frame %+v, %v; want ready", f, rerr)
	}
	if serr != nil || !strings.Contains(string(status), "Seccomp:\t2") || !strings.Contains(string(status), "NoNewPrivs:\t1") {
		t.Fatalf("a spoke of %s is not confined (%v):\n%s", exe, serr, status)
	}
}

// TestSecgptSpokeConfined: spokes started from the secgpt binary itself
// (the default when no secgpt-spoke is installed) are confined too.
func TestSecgptSpokeConfined(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "secgpt")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", exe, "github.com/secgpt-go/secgpt/cmd/secgpt")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/secgpt: %v\n%s", err, out)
	}
	spokeConfined(ctx, t, exe)
}

// TestIdleSpokeMemoryOfEachBinary holds the figures sandbox.pool_memory is
// divided by (core/spoke LocalIdleMemory, LeanIdleMemory, SelfIdleMemory): the private
// memory of an idle pooled spoke of each binary users run, measured on 32
// of them. The pool was sized by one figure for every binary, and spokes
// of the secgpt binary hold twice it: pool_memory did not bound what the
// pool held.
func TestIdleSpokeMemoryOfEachBinary(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command builds the binaries here: %v", err)
	}
	build := exec.CommandContext(ctx, goCmd, "build", "-o", dir+"/", "github.com/secgpt-go/secgpt/cmd/secgpt",
		"github.com/secgpt-go/secgpt/cmd/secgpt-spoke", "github.com/secgpt-go/secgpt/cmd/secgpt-spoke-local")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/...: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		binary string
		figure int64
	}{
		{localSpokeName, spoke.LocalIdleMemory},
		{leanSpokeName, spoke.LeanIdleMemory},
		{"secgpt", spoke.SelfIdleMemory},
	} {
		t.Run(tc.binary, func(t *testing.T) {
			const n = 32
			exe := filepath.Join(dir, tc.binary)
			sp, err := sandbox.New(sandbox.Config{Exe: exe, Pool: n, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer sp.Close()
			pids := idlePooled(t, exe, n)
			var private int64
			for _, pid := range pids {
				private += privateMemory(t, pid)
			}
			per := private / n
			t.Logf("%s: %d KiB of private memory per idle pooled spoke (figure %d KiB)", tc.binary, per>>10, tc.figure>>10)
			if per > tc.figure {
				t.Fatalf("an idle pooled spoke of %s holds %d KiB of its own, more than the %d KiB pool_memory counts it as", tc.binary, per>>10, tc.figure>>10)
			}
		})
	}
}

// idlePooled waits until n spokes of exe are running, all started (their
// memory no longer growing), and returns their PIDs.
func idlePooled(t *testing.T, exe string, n int) []int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last int64
	for {
		var pids []int
		var total int64
		for _, pid := range processesOf(t, exe) {
			if ppid := parentOf(pid); ppid != os.Getpid() { // not the fork server
				pids = append(pids, pid)
				total += privateMemory(t, pid)
			}
		}
		if len(pids) == n && total == last {
			return pids
		}
		last = total
		if time.Now().After(deadline) {
			t.Fatalf("%d pooled spokes of %s after a minute, want %d", len(pids), exe, n)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// processesOf lists the processes running exe.
func processesOf(t *testing.T, exe string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && target == exe {
			out = append(out, pid)
		}
	}
	return out
}

// parentOf is pid's parent, or 0.
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces and parentheses: fields follow the last ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// privateMemory is pid's private memory (clean and dirty), in bytes.
func privateMemory(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		t.Fatalf("read spoke %d's memory: %v", pid, err)
	}
	var kb int64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "Private_Clean:" || f[0] == "Private_Dirty:") {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			kb += v
		}
	}
	return kb << 10
}
