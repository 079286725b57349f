//go:build linux

package mcp

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/secgpt-go/secgpt/sandbox"
)

// TestRemoteServer: a streamable-HTTP server is reached from the spoke
// only through the hub's egress proxy, at its own host, with the bearer
// token from the config; the spoke's network has no other way out.
func TestRemoteServer(t *testing.T) {
	srv := sdk.NewServer(&sdk.Implementation{Name: "remote", Version: "1"}, nil)
	type in struct {
		City string `json:"city"`
	}
	type out struct {
		Forecast string `json:"forecast"`
	}
	sdk.AddTool(srv, &sdk.Tool{Name: "forecast", Description: "Weather for a city."},
		func(_ context.Context, _ *sdk.CallToolRequest, a in) (*sdk.CallToolResult, out, error) {
			return nil, out{Forecast: "sunny in " + a.City}, nil
		})
	var mu sync.Mutex
	var auths []string
	// The test server stands for a remote host, so the SDK's guard for
	// servers on localhost (a Host header that is not localhost) is off.
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, &sdk.StreamableHTTPOptions{DisableLocalhostProtection: true})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Host+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	defer upstream.Close()
	var audit []string
	var amu sync.Mutex
	hs := newHarnessWith(t, sandbox.Config{
		// Every allowed host "resolves" to the local server.
		EgressDial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, upstream.Listener.Addr().String())
		},
		Audit: func(_ context.Context, app, host string, allowed bool) {
			amu.Lock()
			defer amu.Unlock()
			if !allowed {
				audit = append(audit, host)
			}
		},
	})
	s := Server{Name: "weather", URL: "http://mcp.weather.example/mcp", BearerToken: "tok-123"}
	s = hs.discover(s)
	r := hs.mustCall(s, "u:a", "weather__forecast", `{"city":"Lisbon"}`)
	if !strings.Contains(string(r.Structured), "sunny in Lisbon") {
		t.Fatalf("result %+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(auths) == 0 {
		t.Fatal("the server saw no request")
	}
	for _, a := range auths {
		if a != "mcp.weather.example Bearer tok-123" {
			t.Errorf("request %q: want the server's own host and the configured token", a)
		}
	}
	// The same spoke pointed elsewhere is refused by the proxy.
	evil := s
	evil.URL = "http://evil.example/mcp"
	evil.Domains = nil
	pol := hs.policy(s, "u:a") // egress allowed for weather.example only
	cfg := mustJSON(t, evil)
	if _, _, err := hs.invoke(s.ID(), cfg, pol, "weather__forecast", `{"city":"x"}`, 1); err == nil {
		t.Error("a spoke reached a host its policy did not declare")
	}
	amu.Lock()
	defer amu.Unlock()
	if len(audit) == 0 || !strings.Contains(strings.Join(audit, " "), "evil.example") {
		t.Errorf("refusal not audited: %v", audit)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
