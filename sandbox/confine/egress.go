package confine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/secgpt-go/secgpt/sandbox/launch"
)

// ErrNoEgress is returned by the client of EgressClient in a spoke whose app
// declared no network domains.
var ErrNoEgress = errors.New("sandbox: this app declared no network domains, so it has no network access")

// EnterSpoke is Enter in the shape a spoke's entry takes it (core/spoke.Run):
// it confines the process and returns its ISC socket and EgressClient.
func EnterSpoke() (*os.File, *http.Client, error) {
	_, f, err := Enter()
	if err != nil {
		return nil, nil, err
	}
	return f, EgressClient(), nil
}

// EgressClient returns the spoke's HTTP client. In a spoke whose app
// declared network domains it sends every request through the hub's egress
// proxy over fd 4 (CONNECT for https, absolute-URI requests for http), so
// TLS stays end to end and the hub sees only host names. Elsewhere it
// returns a client whose every request fails with ErrNoEgress.
func EgressClient() *http.Client {
	if !isUnixSocket(launch.EgressFD) {
		return &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, ErrNoEgress })}
	}
	return egressClient(launch.EgressFD)
}

// EgressClientFD is EgressClient over the egress socket fd: for tests
// that run the hub's proxy and a spoke's client in one process.
func EgressClientFD(fd int) *http.Client { return egressClient(fd) }

func egressClient(fd int) *http.Client {
	return &http.Client{
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{
			Proxy:                 http.ProxyURL(&url.URL{Scheme: "http", Host: "secgpt-egress.invalid"}),
			DialContext:           egressDialer(fd),
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       30 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: time.Minute,
		},
	}
}

// egressDialer opens a connection to the hub's proxy: a fresh socketpair
// whose one end goes to the hub over fd (SCM_RIGHTS).
func egressDialer(fd int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		fds, err := socketpair()
		if err != nil {
			return nil, fmt.Errorf("egress: socketpair: %w", err)
		}
		err = unix.Sendmsg(fd, []byte{0}, unix.UnixRights(fds[1]), nil, 0)
		_ = unix.Close(fds[1])
		if err != nil {
			_ = unix.Close(fds[0])
			return nil, fmt.Errorf("egress: hand connection to the hub: %w", err)
		}
		return fileConn(fds[0])
	}
}

func isUnixSocket(fd int) bool {
	sa, err := unix.Getsockname(fd)
	_, ok := sa.(*unix.SockaddrUnix)
	return err == nil && ok
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// fileConn turns a descriptor into a net.Conn (closing fd).
func fileConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "egress-conn")
	defer f.Close()
	return net.FileConn(f)
}
