//go:build linux

package sandbox

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/secgpt-go/secgpt/sandbox/confine"
)

func TestRegistrable(t *testing.T) {
	tests := []struct {
		host, want string
		ok         bool
	}{
		{"api.example.com", "example.com", true},
		{"EXAMPLE.com.", "example.com", true},
		{"a.b.bbc.co.uk", "bbc.co.uk", true},
		{"example.com", "example.com", true},
		{"co.uk", "", false},
		{"127.0.0.1", "", false},
		{"[::1]", "", false},
		{"", "", false},
		{"localhost", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			got, err := registrable(tc.host)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("registrable(%q) = %q, %v; want %q, ok=%v", tc.host, got, err, tc.want, tc.ok)
			}
		})
	}
}

// egressPair runs the hub's proxy and a spoke-side client in this process,
// joined by a socketpair exactly as in a spoke (the spoke end is fd).
func egressPair(t *testing.T, p Policy, cfg Config) *http.Client {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[0]), "hub")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	hub := c.(*net.UnixConn)
	done := make(chan struct{})
	go func() {
		defer close(done)
		serveEgress(context.Background(), hub, p, cfg, discardLogger())
	}()
	t.Cleanup(func() {
		unix.Close(fds[1])
		hub.Close()
		<-done
	})
	return confine.EgressClientFD(fds[1])
}

func TestEgressProxy(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "plain %s %s", r.Host, r.URL.Path)
	}))
	defer plain.Close()
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls %s", r.Host)
	}))
	defer secure.Close()
	var mu sync.Mutex
	var dialed, audit []string
	cfg := Config{
		Audit: func(_ context.Context, app, host string, ok bool) {
			mu.Lock()
			defer mu.Unlock()
			audit = append(audit, fmt.Sprintf("%s %s %v", app, host, ok))
		},
		// Upstreams "resolve" to the local servers: 443 and 8443 to TLS, the rest plain.
		EgressDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialed = append(dialed, addr)
			mu.Unlock()
			to := plain.Listener.Addr().String()
			if strings.HasSuffix(addr, "443") {
				to = secure.Listener.Addr().String()
			}
			var d net.Dialer
			return d.DialContext(ctx, network, to)
		},
	}
	client := egressPair(t, Policy{App: "weather", Domains: []string{"example.com", "api.other.org"}, Ports: []int{80, 8443}}, cfg)
	tr := client.Transport.(*http.Transport)
	tr.TLSClientConfig = &tls.Config{RootCAs: secure.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, ServerName: "example.com"}

	tests := []struct {
		name, url string
		want      string // body, or error text when wantErr
		wantErr   bool
	}{
		{"http to a declared domain", "http://api.example.com/forecast", "plain api.example.com /forecast", false},
		{"http to another declared domain's sibling", "http://www.other.org/", "plain www.other.org /", false},
		{"https through CONNECT", "https://example.com/", "tls example.com", false},
		{"http to an undeclared domain", "http://evil.test/x", `403 egress to "evil.test" refused`, true},
		{"https to an undeclared domain", "https://evil.test/x", `egress to "evil.test" refused`, true},
		{"IP literal", "http://127.0.0.1/", `egress to "127.0.0.1" refused`, true},
		{"look-alike domain", "http://example.com.evil.test/", "refused", true},
		{"https on a declared port", "https://example.com:8443/", "tls example.com:8443", false},
		{"http on an undeclared port", "http://api.example.com:8080/", `403 egress to "api.example.com" port 8080 refused`, true},
		{"https on an undeclared port", "https://example.com:22/", `egress to "example.com" port 22 refused: app "weather" may use ports 443, 80, 8443`, true},
		{"http on port 0", "http://api.example.com:0/", "refused", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.Get(tc.url)
			var got string
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				got = string(b)
				if resp.StatusCode != http.StatusOK {
					err = errors.New(resp.Status)
				}
			}
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %q, %v; want an error saying %q", got, err, tc.want)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	for _, d := range dialed {
		if strings.Contains(d, "evil") || strings.HasPrefix(d, "127.") || strings.HasSuffix(d, ":22") || strings.HasSuffix(d, ":8080") {
			t.Errorf("proxy dialed a refused host: %s", d)
		}
	}
	for _, want := range []string{"weather api.example.com:80 true", "weather evil.test:80 false", "weather 127.0.0.1:80 false", "weather example.com:22 false", "weather example.com true"} {
		if !strings.Contains(strings.Join(audit, "\n"), want) {
			t.Errorf("audit lacks %q: %v", want, audit)
		}
	}
}

func TestPublicDialerRefusesLocalAddresses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, addr := range []string{ln.Addr().String(), "10.0.0.1:80", "169.254.169.254:80", "[::1]:80", "0.0.0.0:80",
		"100.64.0.1:443", "198.18.0.1:443", "192.0.0.170:443", "240.0.0.1:443", "0.1.2.3:443",
		"[64:ff9b::7f00:1]:443", "[64:ff9b::a9fe:a9fe]:443", "[::ffff:10.0.0.1]:443", "[2002:7f00:1::1]:443", "[fd00::1]:443"} {
		c, err := publicDialer()(context.Background(), "tcp", addr)
		if err == nil {
			c.Close()
			t.Errorf("dialed %s", addr)
		} else if !strings.Contains(err.Error(), "non-public") {
			t.Errorf("dial %s: %v, want a non-public refusal", addr, err)
		}
	}
}

func TestCheckPublic(t *testing.T) {
	tests := []struct {
		addr   string
		public bool
	}{
		{"93.184.215.14", true},
		{"8.8.8.8", true},
		{"192.31.196.1", true}, // AS112: special-purpose but globally reachable
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", true},
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8
		{"::ffff:8.8.8.8", true},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"10.1.2.3", false},
		{"100.64.0.1", false},
		{"100.127.255.255", false},
		{"127.0.0.1", false},
		{"169.254.169.254", false},
		{"172.16.0.1", false},
		{"192.0.0.8", false},
		{"192.0.2.1", false},
		{"192.88.99.1", false},
		{"192.168.1.1", false},
		{"198.18.0.1", false},
		{"198.19.255.255", false},
		{"198.51.100.1", false},
		{"203.0.113.1", false},
		{"224.0.0.1", false},
		{"240.0.0.1", false},
		{"255.255.255.255", false},
		{"::", false},
		{"::1", false},
		{"::7f00:1", false}, // IPv4-compatible, deprecated
		{"::ffff:127.0.0.1", false},
		{"::ffff:169.254.169.254", false},
		{"64:ff9b::127.0.0.1", false},
		{"64:ff9b::10.0.0.1", false},
		{"64:ff9b::100.64.0.1", false},
		{"64:ff9b:1::8.8.8.8", false}, // local-use NAT64
		{"100::1", false},
		{"2001::1", false},        // Teredo
		{"2001:db8::1", false},    // documentation
		{"2002:7f00:1::1", false}, // 6to4 of 127.0.0.1
		{"2002:808:808::1", false},
		{"3fff::1", false},
		{"5f00::1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"fec0::1", false},
		{"ff02::1", false},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			err := checkPublic(netip.MustParseAddr(tc.addr))
			if (err == nil) != tc.public {
				t.Fatalf("checkPublic(%s) = %v, want public=%v", tc.addr, err, tc.public)
			}
		})
	}
}

// TestEgressHeaderCap: a spoke that sends endless headers gets a 431 after
// maxEgressHeader bytes, not a hub buffering without bound.
func TestEgressHeaderCap(t *testing.T) {
	px := newEgressProxy(Policy{App: "flood", Domains: []string{"example.com"}}, Config{
		EgressDial: func(context.Context, string, string) (net.Conn, error) {
			t.Error("the proxy dialed for a request whose headers were never complete")
			return nil, errors.New("no")
		},
	}, discardLogger())
	spoke, hub := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		px.serveConn(context.Background(), hub)
	}()
	sent := make(chan int64, 1)
	go func() {
		var n int64
		w := bufio.NewWriter(spoke)
		k, _ := w.WriteString("GET http://api.example.com/ HTTP/1.1\r\nHost: api.example.com\r\n")
		n += int64(k)
		line := "X-Pad: " + strings.Repeat("a", 1000) + "\r\n"
		for n < 4*maxEgressHeader {
			k, err := w.WriteString(line)
			n += int64(k)
			if err != nil || w.Flush() != nil {
				break
			}
		}
		sent <- n
	}()
	resp, err := http.ReadResponse(bufio.NewReader(spoke), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status = %s, want 431", resp.Status)
	}
	spoke.Close()
	<-done
	if n := <-sent; n >= 4*maxEgressHeader {
		t.Fatalf("the proxy read all %d bytes", n)
	}
}

// FuzzEgressProxy feeds arbitrary spoke bytes to the proxy: it must not
// panic, and must never dial a host outside the declared domains.
func FuzzEgressProxy(f *testing.F) {
	f.Add([]byte("CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test:443\r\n\r\n"))
	f.Add([]byte("CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n"))
	f.Add([]byte("GET http://api.example.com/x HTTP/1.1\r\nHost: evil.test\r\n\r\n"))
	f.Add([]byte("GET http://evil.test/x HTTP/1.1\r\nHost: api.example.com\r\n\r\nGET http://x.example.com/ HTTP/1.1\r\n\r\n"))
	f.Add([]byte("GET /relative HTTP/1.1\r\nHost: example.com\r\n\r\n"))
	f.Add([]byte("CONNECT api.example.com:22 HTTP/1.1\r\nHost: api.example.com:22\r\n\r\n"))
	f.Add([]byte("GET http://api.example.com:443/x HTTP/1.1\r\n\r\nGET http://api.example.com/x HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		px := newEgressProxy(Policy{App: "fuzz", Domains: []string{"example.com"}}, Config{
			EgressDial: func(_ context.Context, _, addr string) (net.Conn, error) {
				host, port, err := net.SplitHostPort(addr)
				if err != nil {
					t.Errorf("dialed %q without a port", addr)
					host = addr
				}
				if reg, err := registrable(host); err != nil || reg != "example.com" {
					t.Errorf("dialed undeclared %q", addr)
				}
				if port != "443" {
					t.Errorf("dialed undeclared port in %q", addr)
				}
				return nil, errors.New("no upstream in fuzzing")
			},
		}, discardLogger())
		spoke, hub := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			px.serveConn(context.Background(), hub)
		}()
		go func() {
			_, _ = spoke.Write(in)
			_ = spoke.Close()
		}()
		_, _ = io.Copy(io.Discard, bufio.NewReader(spoke))
		<-done
	})
}

// A tunnel whose spoke is gone is closed upstream once the spoke's proxy
// ends (Proc.Wait cancels it), even if the upstream ignores the half-close
// and stays silent.
func TestTunnelClosesUpstreamWithTheSpoke(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	halfClosed, probe, upstreamGone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(io.Discard, c) // until the proxy's half-close
		close(halfClosed)
		<-probe
		// Writes fail once the proxy has closed its end.
		for range 100 {
			if _, err := c.Write([]byte("x")); err != nil {
				close(upstreamGone)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	px := newEgressProxy(Policy{App: "t", Domains: []string{"example.com"}}, Config{
		EgressDial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, ln.Addr().String())
		},
	}, discardLogger())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	spoke, hub := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		px.serveConn(ctx, hub)
	}()
	go func() {
		_, _ = io.WriteString(spoke, "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n")
	}()
	resp, err := http.ReadResponse(bufio.NewReader(spoke), &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	spoke.Close() // the spoke dies
	<-halfClosed
	select {
	case <-done:
		t.Fatal("the tunnel ended before the spoke was reaped: the test proves nothing")
	case <-time.After(200 * time.Millisecond):
	}
	cancel() // Proc.Wait reaped the spoke
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the tunnel stayed open after the spoke was reaped")
	}
	close(probe)
	select {
	case <-upstreamGone:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream connection stayed open after the spoke was reaped")
	}
}
