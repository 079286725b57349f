package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/ops/connect"
	"github.com/secgpt-go/secgpt/sandbox"
)

// operatorUser is whose sign-in lists an oauth server's tools at start:
// the operator's, used for that listing only, never for a chat user's
// invocation.
const operatorUser = ids.UserID("secgpt:operator")

// newMCPAuth wires the MCP authorization flow when a server has oauth: it
// returns nil when none has. The callback is mounted on the public
// listener (mcp.redirect_base_url) or served on a loopback listener.
// The hub's own requests (metadata, registration, tokens) dial public
// addresses only, plus the blocks the server's private_networks opened.
func newMCPAuth(cfg config.Config, d *deployment, st state.Store, log *slog.Logger) (*connect.MCP, error) {
	var servers []connect.MCPServer
	for _, name := range cfg.MCPServerNames() {
		c := cfg.MCP.Servers[name]
		if !c.OAuth {
			continue
		}
		key := "mcp.servers." + name
		if c.URL == "" || c.BearerToken != "" || c.Secrets["BEARER_TOKEN"] != (config.Secret{}) {
			return nil, &config.KeyError{Key: key + ".oauth", Msg: "is for a remote server (url) without a bearer token"}
		}
		nets, err := privateNetworks(name, c, nil)
		if err != nil {
			return nil, err
		}
		dial := sandbox.PublicDialer(nets)
		hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dial, Proxy: nil, TLSHandshakeTimeout: 10 * time.Second}}
		srv := connect.MCPServer{App: ids.AppID("mcp." + name), URL: c.URL, HTTPClient: hc, DefaultEndpoints: c.OAuthDefaultEndpoints}
		if c.OAuthClientID != "" {
			srv.Client = &connect.MCPClient{ID: c.OAuthClientID, Issuer: c.OAuthIssuer}
			if c.OAuthClientSecret != (config.Secret{}) {
				// The error says where the value was looked for, never the value.
				if srv.Client.Secret, err = c.OAuthClientSecret.Resolve(nil); err != nil {
					return nil, &config.KeyError{Key: key + ".oauth_client_secret", Msg: err.Error()}
				}
			}
		}
		servers = append(servers, srv)
	}
	if len(servers) == 0 {
		return nil, nil
	}
	key, err := connect.ParseKey(cfg.MCP.TokenKey)
	if err != nil {
		return nil, &config.KeyError{Key: "mcp.token_key", Msg: err.Error() + " (servers with oauth need it; set SECGPT_MCP_TOKEN_KEY; generate one with: openssl rand -base64 32)"}
	}
	mc := connect.MCPConfig{Servers: servers, Key: key, Logger: log, Linked: d.accountLinked}
	if base := cfg.MCP.RedirectBaseURL; base != "" {
		if d.Public == nil {
			return nil, &config.KeyError{Key: "mcp.redirect_base_url", Msg: "needs server.public_listen: the callback is served on a listener of its own"}
		}
		mc.RedirectURL = strings.TrimRight(base, "/") + connect.MCPCallbackPath
		m, err := connect.NewMCP(mc, st)
		if err != nil {
			return nil, err
		}
		if err := d.Public.Handle(connect.MCPCallbackPath, m); err != nil {
			return nil, fmt.Errorf("mount the mcp sign-in callback: %w", err)
		}
		return m, nil
	}
	ln, _, err := connect.ListenLoopback("")
	if err != nil {
		return nil, err
	}
	mc.RedirectURL = "http://" + ln.Addr().String() + connect.MCPCallbackPath
	m, err := connect.NewMCP(mc, st)
	if err != nil {
		ln.Close()
		return nil, err
	}
	d.serveLoopback(ln, connect.MCPCallbackPath, m, "mcp sign-in callback listener")
	return m, nil
}

// serveLoopback serves h at path on ln until the deployment closes.
func (d *deployment) serveLoopback(ln net.Listener, path string, h http.Handler, what string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := connect.ServePath(ctx, ln, path, h); err != nil {
			d.log.Error(what, "err", err)
		}
	}()
	d.closers = append(d.closers, func() error { cancel(); <-done; return nil })
}

// discoveryCredential is the operator's token for listing app's tools at
// start, when app's server uses oauth; nil otherwise, or when the
// operator has not signed in yet: then the warning carries the link.
func (p *appPolicies) discoveryCredential(ctx context.Context, app ids.AppID, log *slog.Logger) *isc.Credential {
	if p.signIn == nil || !p.signIn.Has(app) {
		return nil
	}
	c, err := p.signIn.Credential(ctx, operatorUser, app)
	var se *connect.SignInError
	if errors.As(err, &se) {
		log.Warn("MCP server needs the operator's sign-in to list its tools: open the link, sign in, then restart the bot", "app", app, "link", se.URL)
		return nil
	}
	if err != nil {
		log.Warn("MCP server sign-in for listing its tools", "app", app, "err", err)
	}
	return c
}

// accounts is the hub's Accounts over the Google link and the MCP
// authorization flow: "google" goes to the one, an MCP server's app ID to
// the other; a credential comes from whichever serves the app.
type accounts struct {
	google *connect.Google
	mcp    *connect.MCP
}

// hubAccounts returns what the hub gets: nil, one of the two, or both.
func hubAccounts(g *connect.Google, m *connect.MCP) hub.Accounts {
	switch {
	case g == nil && m == nil:
		return nil
	case m == nil:
		return g
	}
	return &accounts{google: g, mcp: m}
}

func (a *accounts) pick(provider string) (hub.Accounts, error) {
	if a.mcp.Has(ids.AppID(provider)) {
		return a.mcp, nil
	}
	if a.google != nil {
		return a.google, nil
	}
	return nil, connect.ErrUnknownProvider
}

func (a *accounts) ConnectURL(ctx context.Context, provider string, user ids.UserID, conv ids.ConversationID) (string, error) {
	x, err := a.pick(provider)
	if err != nil {
		return "", err
	}
	return x.ConnectURL(ctx, provider, user, conv)
}

func (a *accounts) Disconnect(ctx context.Context, provider string, user ids.UserID) (bool, error) {
	x, err := a.pick(provider)
	if err != nil {
		return false, err
	}
	return x.Disconnect(ctx, provider, user)
}

func (a *accounts) Credential(ctx context.Context, user ids.UserID, app ids.AppID) (*isc.Credential, error) {
	if a.mcp.Has(app) {
		return a.mcp.Credential(ctx, user, app)
	}
	if a.google != nil {
		return a.google.Credential(ctx, user, app)
	}
	return nil, nil
}

// Connected reports the Google link, for the Slack Home tab.
func (a *accounts) Connected(ctx context.Context, user ids.UserID) (bool, error) {
	if a.google == nil {
		return false, nil
	}
	return a.google.Connected(ctx, user)
}

var _ hub.Accounts = (*accounts)(nil)
