package mcp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/secgpt-go/secgpt/apps/appstest"
)

// TestBearerStaysWithItsServer: the configured bearer token goes to the
// server's own origin only. A redirect to another host (any the spoke may
// reach) gets the request without it; it used to be added by the
// transport to every hop.
func TestBearerStaysWithItsServer(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{}
	record := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[name] = r.Header.Get("Authorization")
			mu.Unlock()
			io.WriteString(w, "{}")
		}
	}
	other := httptest.NewServer(record("other"))
	defer other.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/mcp", record("server"))
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/here", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/mcp", http.StatusTemporaryRedirect)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	env := appstest.NewEnv()
	env.Client = &http.Client{}
	a := newApp(Server{Name: "remote", URL: srv.URL + "/mcp", BearerToken: "tok-123"})
	tr, err := a.transport(env)
	if err != nil {
		t.Fatal(err)
	}
	hc := tr.(*sdk.StreamableClientTransport).HTTPClient
	for _, path := range []string{"/mcp", "/here", "/moved"} {
		resp, err := hc.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["server"] != "Bearer tok-123" {
		t.Errorf("the server got %q, want its token", seen["server"])
	}
	if got, ok := seen["other"]; !ok || got != "" {
		t.Errorf("the host redirected to got Authorization %q (reached: %v)", got, ok)
	}
}
