//go:build linux

package sandbox

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// TestPrivateNets: a non-public address is refused by default, also as an
// IP literal with its port declared; an app whose policy names a private
// block (the operator's per-server opt-in for an internal MCP server) may
// reach addresses inside it, and only those, and no other app may.
func TestPrivateNets(t *testing.T) {
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "internal %s", r.URL.Path)
	}))
	defer internal.Close()
	_, portStr, _ := net.SplitHostPort(internal.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	get := func(c *http.Client, u string) (int, string) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	url := "http://127.0.0.1:" + portStr + "/mcp"
	tests := []struct {
		name    string
		private []netip.Prefix
		url     string
		ok      bool
	}{
		{"by default", nil, url, false},
		{"opted in", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, url, true},
		{"another address than the opted-in block", []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}, url, false},
		{"metadata service stays out", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, "http://169.254.169.254:" + portStr + "/", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := egressPair(t, Policy{App: "mcp.internal", Ports: []int{port}, PrivateNets: tc.private}, Config{})
			t.Cleanup(c.CloseIdleConnections) // runs first: the proxy's connection ends
			code, body := get(c, tc.url)
			if ok := code == http.StatusOK && strings.Contains(body, "internal /mcp"); ok != tc.ok {
				t.Errorf("GET %s: %d %q, want reached %v", tc.url, code, body, tc.ok)
			}
		})
	}
	// The dialer checks the address it connects to, after DNS: only the
	// opted-in block passes.
	d := publicDialerExcept([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	if c, err := d(context.Background(), "tcp", internal.Listener.Addr().String()); err != nil {
		t.Errorf("opted-in dial: %v", err)
	} else {
		c.Close()
	}
	if _, err := publicDialer()(context.Background(), "tcp", internal.Listener.Addr().String()); err == nil {
		t.Error("the default dialer reached a loopback address")
	}
}

// TestCheckPrivateNets: a block that is public, or wider than a /8 (IPv4)
// or /32 (IPv6), is no opt-in for an internal server and is refused.
func TestCheckPrivateNets(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"10.0.0.0/8", true},
		{"192.168.1.10/32", true},
		{"fd00:1::/48", true},
		{"0.0.0.0/0", false},
		{"8.8.8.0/24", false},
		{"::/0", false},
	} {
		if err := CheckPrivateNet(netip.MustParsePrefix(tc.in)); (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok %v", tc.in, err, tc.ok)
		}
	}
}
