package cli

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/config"
)

// googleConfig is a config with a Google OAuth client whose callback is
// public (redirect_base_url).
func googleConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.Store.Path = filepath.Join(t.TempDir(), "secgpt.db")
	cfg.Google.ClientID = "client-1.apps.googleusercontent.com"
	cfg.Google.ClientSecret = "secret-1"
	cfg.Google.TokenKey = strings.Repeat("ab", 32)
	cfg.Google.RedirectBaseURL = "https://bot.example.org"
	return cfg
}

// TestOAuthCallbackNotOnInternalListener: the public OAuth callback is not
// served beside /metrics and /readyz, which have no authentication; a
// public redirect_base_url without server.public_listen is refused at
// start, naming the key. (It used to be mounted on server.listen.)
func TestOAuthCallbackNotOnInternalListener(t *testing.T) {
	cfg := googleConfig(t)
	cfg.Server.Listen = "127.0.0.1:0"
	d, err := build(context.Background(), cfg, discardLogger())
	if err == nil {
		d.Close()
		t.Fatal("the OAuth callback was mounted on server.listen, beside /metrics and /readyz")
	}
	if !strings.Contains(err.Error(), "server.public_listen") {
		t.Errorf("error %q does not name server.public_listen", err)
	}
}

// TestOAuthCallbackOnPublicListener: with server.public_listen the
// callback is served there and nothing else is; server.listen keeps
// /metrics and /readyz and does not serve the callback.
func TestOAuthCallbackOnPublicListener(t *testing.T) {
	cfg := googleConfig(t)
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Server.PublicListen = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := build(ctx, cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	go func() { _ = d.Run(ctx) }()
	public, internal := "http://"+d.publicLn.Addr().String(), "http://"+d.listener.Addr().String()
	for _, tc := range []struct {
		base, path string
		status     int
	}{
		{public, "/oauth/google/callback?state=x&code=y", http.StatusBadRequest}, // the callback, refusing a state it did not seal
		{public, "/metrics", http.StatusNotFound},
		{public, "/readyz", http.StatusNotFound},
		{public, "/healthz", http.StatusNotFound},
		{internal, "/oauth/google/callback?state=x&code=y", http.StatusNotFound},
		{internal, "/metrics", http.StatusOK},
		{internal, "/readyz", http.StatusOK},
	} {
		resp, err := http.Get(tc.base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s on the %s listener: %d, want %d (%.80s)", tc.path, map[bool]string{true: "public", false: "internal"}[tc.base == public], resp.StatusCode, tc.status, b)
		}
	}
	cfg.Server.Listen, cfg.Server.PublicListen = "127.0.0.1:9090", "127.0.0.1:9090"
	if cfg.Validate() == nil {
		t.Error("server.public_listen equal to server.listen was accepted")
	}
}
