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
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// Config selects optional server features for StartWith.
type Config struct {
	// Password, if set, is required of clients (requirepass).
	Password string
	// TLS serves only TLS, with a fresh self-signed certificate for
	// 127.0.0.1; Instance.CertPool trusts it.
	TLS bool
}

// Instance is a private redis-server process that a test controls.
type Instance struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	cfg  Config
	pool *x509.CertPool

	mu       sync.Mutex // guards cmd and waitExit
	cmd      *exec.Cmd
	waitExit chan error
}

// Start starts a private redis-server (no persistence) on a free loopback
// port and stops it at test cleanup. Without a redis-server on PATH it skips
// the test, or fails it under CI=true.
func Start(t testing.TB) *Instance {
	t.Helper()
	return StartWith(t, Config{})
}

// StartWith is Start with a password or TLS.
func StartWith(t testing.TB, cfg Config) *Instance {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "no redis-server on PATH and " + EnvURL + " unset (run scripts/redis-test-server.sh)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	in := &Instance{t: t, bin: bin, dir: t.TempDir(), port: port, cfg: cfg}
	if cfg.TLS {
		in.pool = writeCert(t, in.dir)
	}
	in.start()
	t.Cleanup(in.Stop)
	return in
}

// URL is the instance's URL for database 0: redis:// or rediss:// (TLS),
// with the password if one is set.
func (in *Instance) URL() string {
	u := url.URL{Scheme: "redis", Host: in.Addr(), Path: "/0"}
	if in.cfg.TLS {
		u.Scheme = "rediss"
	}
	if in.cfg.Password != "" {
		u.User = url.UserPassword("", in.cfg.Password)
	}
	return u.String()
}

// Addr is host:port.
func (in *Instance) Addr() string { return "127.0.0.1:" + strconv.Itoa(in.port) }

// CertPool trusts the server's certificate (nil without TLS).
func (in *Instance) CertPool() *x509.CertPool { return in.pool }

func (in *Instance) start() {
	in.t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	logPath := filepath.Join(in.dir, "redis.log")
	// A config file rather than flags: an empty flag value (--save "") is
	// not reliably read as intended. No append-only file (an fsync per
	// write would make every test slow); the far-off snapshot point only
	// makes Redis save its data when Stop asks it to shut down, so a test
	// that restarts the server finds its data again, as with a production
	// Redis that persists.
	var conf strings.Builder
	fmt.Fprintf(&conf, "bind 127.0.0.1\nsave 86400 1\nappendonly no\ndir %s\nlogfile %s\n", in.dir, logPath)
	if in.cfg.TLS {
		fmt.Fprintf(&conf, "port 0\ntls-port %d\ntls-cert-file %s\ntls-key-file %s\ntls-auth-clients no\n",
			in.port, filepath.Join(in.dir, "cert.pem"), filepath.Join(in.dir, "key.pem"))
	} else {
		fmt.Fprintf(&conf, "port %d\n", in.port)
	}
	if in.cfg.Password != "" {
		fmt.Fprintf(&conf, "requirepass %q\n", in.cfg.Password)
	}
	confPath := filepath.Join(in.dir, "redis.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o600); err != nil {
		in.t.Fatalf("write redis config: %v", err)
	}
	// Poll until it answers; give up after a few seconds. A port still
	// held by a socket of another process (a connection in TIME_WAIT, a
	// test's client bound to it) frees itself: start again until then.
	deadline := time.Now().Add(5 * time.Second)
	for {
		// launch reads the log for this start's readiness; a restart's
		// log would still say the last start's.
		_ = os.Remove(logPath)
		cmd, exited, err := in.launch(confPath, logPath, deadline)
		if err == nil {
			in.cmd, in.waitExit = cmd, exited
			return
		}
		log, _ := os.ReadFile(logPath)
		if bytes.Contains(log, []byte("Address already in use")) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		in.t.Fatalf("%v: %s", err, log)
	}
}

// launch starts redis-server once and waits until it is ready, it exits,
// or deadline passes. Ready is its own log saying so and the port
// answering: another server on the port would answer too, while the one
// launched fails to bind and exits.
func (in *Instance) launch(confPath, logPath string, deadline time.Time) (*exec.Cmd, chan error, error) {
	cmd := exec.Command(in.bin, confPath)
	// Don't outlive a test binary that is killed before its cleanup runs.
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for !logSaysReady(logPath) || !in.answers() {
		select {
		case err := <-exited:
			return nil, nil, fmt.Errorf("redis-server exited at start (%v)", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return nil, nil, fmt.Errorf("redis-server did not answer on %s", in.Addr())
		}
	}
	return cmd, exited, nil
}

// logSaysReady reports whether the redis log at path says the server
// accepts connections (every Redis since 2.8 logs it once listening).
func logSaysReady(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && bytes.Contains(b, []byte("Ready to accept connections"))
}

// freePort returns a loopback port that is free now and outside the
// kernel's range of ephemeral ports. A port from that range (as
// listening on port 0 gives) can become some connection's local port
// while the test has the server stopped, and Restart then cannot bind it.
func freePort() (int, error) {
	lo, hi := 32768, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			l, err1 := strconv.Atoi(f[0])
			h, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil {
				lo, hi = l, h
			}
		}
	}
	// Below the range if there is room, else above it.
	from, to := 10000, lo
	if to-from < 1000 {
		from, to = hi+1, 65536
	}
	if to-from >= 1000 {
		for range 200 {
			port := from + rand.IntN(to-from)
			if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
				l.Close()
				return port, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// answers reports whether the server replies to PING (an auth error counts:
// the server is up).
func (in *Instance) answers() bool {
	d := &net.Dialer{Timeout: 200 * time.Millisecond}
	var c net.Conn
	var err error
	if in.cfg.TLS {
		c, err = tls.DialWithDialer(d, "tcp", in.Addr(), &tls.Config{RootCAs: in.pool, ServerName: "127.0.0.1"})
	} else {
		c, err = d.Dial("tcp", in.Addr())
	}
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && (strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH"))
}

// Stop shuts the server down (saving its data for Restart) and waits for
// it to exit; if it does not exit within seconds it is killed. Stopping a
// stopped instance does nothing.
func (in *Instance) Stop() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil {
		return
	}
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.waitExit:
	case <-time.After(5 * time.Second):
		in.cmd.Process.Kill()
		<-in.waitExit
	}
	in.cmd = nil
}

// Restart starts a stopped server again on the same port, with the data
// it had when stopped.
func (in *Instance) Restart() {
	in.t.Helper()
	in.Stop()
	in.start()
}
