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

// TestLaunchOnPortAnotherServerAnswers: another server on the port (here
// one that answers PING like a redis) is not taken for the one launched:
// that one fails to bind and exits, and tests would talk to a stranger.
// launch waits for its own server's log to say it is ready.
func TestLaunchOnPortAnotherServerAnswers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64)
				if _, err := c.Read(buf); err == nil {
					_, _ = c.Write([]byte("+PONG\r\n"))
				}
			}()
		}
	}()
	in := Start(t) // for its binary; its own server is not used
	other := &Instance{t: t, bin: in.bin, dir: t.TempDir(), port: l.Addr().(*net.TCPAddr).Port}
	logPath := other.dir + "/redis.log"
	conf := other.dir + "/redis.conf"
	if err := os.WriteFile(conf, []byte("bind 127.0.0.1\nport "+strconv.Itoa(other.port)+"\nlogfile "+logPath+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, _, err := other.launch(conf, logPath, time.Now().Add(3*time.Second))
	if err == nil {
		_ = cmd.Process.Kill()
		t.Fatal("launch reported a server ready on a port another server holds")
	}
}
