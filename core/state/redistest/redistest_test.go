package redistest

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRestartWhilePortHeld: a socket of someone else may hold the
// server's port while a test has it stopped (CI saw a client's
// connection take it, and Restart failed with "Address already in use").
// Restart waits for the port instead of failing, and Start picks ports
// outside the kernel's ephemeral range so that outgoing connections
// cannot take them at all.
func TestRestartWhilePortHeld(t *testing.T) {
	in := Start(t)
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		f := strings.Fields(string(b))
		lo, _ := strconv.Atoi(f[0])
		hi, _ := strconv.Atoi(f[1])
		if in.port >= lo && in.port <= hi {
			t.Errorf("port %d is in the ephemeral range %d-%d", in.port, lo, hi)
		}
	}
	in.Stop()
	l, err := net.Listen("tcp", in.Addr())
	if err != nil {
		t.Fatalf("hold the port: %v", err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		l.Close()
	}()
	in.Restart()
	if !in.answers() {
		t.Fatal("the restarted server does not answer")
	}
}
