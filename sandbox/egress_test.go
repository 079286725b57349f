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
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
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
	return egressClient(fds[1])
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
		// Upstreams "resolve" to the local servers: 443 to TLS, the rest plain.
		EgressDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialed = append(dialed, addr)
			mu.Unlock()
			to := plain.Listener.Addr().String()
			if strings.HasSuffix(addr, ":443") {
				to = secure.Listener.Addr().String()
			}
			var d net.Dialer
			return d.DialContext(ctx, network, to)
		},
	}
	client := egressPair(t, Policy{App: "weather", Domains: []string{"example.com", "api.other.org"}}, cfg)
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
		if strings.Contains(d, "evil") || strings.HasPrefix(d, "127.") {
			t.Errorf("proxy dialed a refused host: %s", d)
		}
	}
	for _, want := range []string{"weather api.example.com true", "weather evil.test false", "weather 127.0.0.1 false"} {
		if !strings.Contains(strings.Join(audit, "\n"), want) {
			t.Errorf("audit lacks %q: %v", want, audit)
		}
	}
}

func TestEgressClientWithoutDomains(t *testing.T) {
	// The test process has no egress socket on fd 4 (or not a unix one).
	if isUnixSocket(EgressFD) {
		t.Skip("fd 4 happens to be a unix socket in this process")
	}
	_, err := EgressClient().Get("http://example.com/")
	if !errors.Is(err, ErrNoEgress) {
		t.Fatalf("got %v, want ErrNoEgress", err)
	}
}

func TestPublicDialerRefusesLocalAddresses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, addr := range []string{ln.Addr().String(), "10.0.0.1:80", "169.254.169.254:80", "[::1]:80", "0.0.0.0:80"} {
		c, err := publicDialer()(context.Background(), "tcp", addr)
		if err == nil {
			c.Close()
			t.Errorf("dialed %s", addr)
		} else if !strings.Contains(err.Error(), "non-public") {
			t.Errorf("dial %s: %v, want a non-public refusal", addr, err)
		}
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
	f.Fuzz(func(t *testing.T, in []byte) {
		px := newEgressProxy(Policy{App: "fuzz", Domains: []string{"example.com"}}, Config{
			EgressDial: func(_ context.Context, _, addr string) (net.Conn, error) {
				host, _, err := net.SplitHostPort(addr)
				if err != nil {
					host = addr
				}
				if reg, err := registrable(host); err != nil || reg != "example.com" {
					t.Errorf("dialed undeclared %q", addr)
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
