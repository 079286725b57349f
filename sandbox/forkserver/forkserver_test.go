//go:build linux

package forkserver

import (
	"syscall"
	"testing"
)

// The fork server's end-to-end tests (a dead fork server, Close waiting for
// running spokes, what a spoke can reach of it) start real spokes and live
// in package sandbox, whose test binary is a spoke binary.

func TestExitError(t *testing.T) {
	tests := []struct {
		name string
		ws   syscall.WaitStatus
		want string
	}{
		{"killed", syscall.WaitStatus(syscall.SIGKILL), "signal: killed"},
		{"seccomp", syscall.WaitStatus(syscall.SIGSYS), "signal: bad system call"},
		{"exit status", syscall.WaitStatus(3 << 8), "exit status 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (&Exit{Status: tt.ws}).Error(); got != tt.want {
				t.Fatalf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}
