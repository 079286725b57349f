//go:build linux

package confine

import (
	"errors"
	"testing"

	"github.com/secgpt-go/secgpt/sandbox/launch"
)

func TestEgressClientWithoutDomains(t *testing.T) {
	// The test process has no egress socket on fd 4 (or not a unix one).
	if isUnixSocket(launch.EgressFD) {
		t.Skip("fd 4 happens to be a unix socket in this process")
	}
	_, err := EgressClient().Get("http://example.com/")
	if !errors.Is(err, ErrNoEgress) {
		t.Fatalf("got %v, want ErrNoEgress", err)
	}
}
