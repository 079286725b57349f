// Package redistest finds or starts a real Redis for tests. Only tests
// import it.
//
// Server uses $SECGPT_TEST_REDIS_URL when set, else starts a private
// redis-server from PATH on a free loopback port (killed at test cleanup),
// else skips the test — or fails it when CI=true, so CI never silently
// skips. scripts/redis-test-server.sh installs and starts one by hand.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvURL names the variable that points tests at an existing Redis.
const EnvURL = "SECGPT_TEST_REDIS_URL"

// Server returns the URL of a Redis the test may use. Tests sharing it must
// keep to their own key namespace.
func Server(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return Start(t).URL()
}

// Instance is a private redis-server process that a test controls.
type Instance struct {
	t    testing.TB
	bin  string
	dir  string
	port int

	mu       sync.Mutex // guards cmd and waitExit
	cmd      *exec.Cmd
	waitExit chan error
}

// Start starts a private redis-server (no persistence) on a free loopback
// port and stops it at test cleanup. Without a redis-server on PATH it skips
// the test, or fails it under CI=true.
func Start(t testing.TB) *Instance {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "no redis-server on PATH and " + EnvURL + " unset (run scripts/redis-test-server.sh)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	in := &Instance{t: t, bin: bin, dir: t.TempDir(), port: port}
	in.start()
	t.Cleanup(in.Stop)
	return in
}

// URL is the instance's redis:// URL (database 0).
func (in *Instance) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", in.port) }

// Addr is host:port.
func (in *Instance) Addr() string { return "127.0.0.1:" + strconv.Itoa(in.port) }

func (in *Instance) start() {
	in.t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	logPath := filepath.Join(in.dir, "redis.log")
	// A config file rather than flags: an empty flag value (--save "") is
	// not reliably read as "no snapshots" and left persistence on.
	conf := fmt.Sprintf("bind 127.0.0.1\nport %d\nsave \"\"\nappendonly no\ndir %s\nlogfile %s\n", in.port, in.dir, logPath)
	confPath := filepath.Join(in.dir, "redis.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		in.t.Fatalf("write redis config: %v", err)
	}
	cmd := exec.Command(in.bin, confPath)
	// Don't outlive a test binary that is killed before its cleanup runs.
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		in.t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Poll until it answers PING; give up after a few seconds.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if ping(in.Addr()) {
			break
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logPath)
			in.t.Fatalf("redis-server exited at start (%v): %s", err, log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			log, _ := os.ReadFile(logPath)
			in.t.Fatalf("redis-server did not answer on %s: %s", in.Addr(), log)
		}
	}
	in.cmd = cmd
	in.waitExit = exited
}

func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// Stop kills the server and waits for it to exit. Stopping a stopped
// instance does nothing.
func (in *Instance) Stop() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil {
		return
	}
	in.cmd.Process.Kill()
	<-in.waitExit
	in.cmd = nil
}

// Restart starts a stopped server again on the same port, empty.
func (in *Instance) Restart() {
	in.t.Helper()
	in.Stop()
	in.start()
}
