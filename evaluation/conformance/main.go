// Command conformance is SecGPT's MCP client as the public MCP conformance
// suite (npm @modelcontextprotocol/conformance) drives it: the suite runs
// it with the test server's URL as its last argument and the scenario in
// MCP_CONFORMANCE_SCENARIO. It uses the client code a spoke runs
// (apps/mcp: initialize, list tools, call each tool, answer elicitation)
// and, for auth/ scenarios, the hub's MCP authorization flow (ops/connect:
// metadata discovery, dynamic client registration or the client the
// scenario pre-registered (MCP_CONFORMANCE_CONTEXT), PKCE, the resource
// indicator), with a loopback callback and a browser that follows the
// authorization server's redirects. scripts/mcp-conformance.sh runs the
// suite against it.
//
// It is a test program: nothing imports it and no release ships it.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/apps/appstest"
	"github.com/secgpt-go/secgpt/apps/mcp"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state/memstore"
	"github.com/secgpt-go/secgpt/ops/connect"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: conformance SERVER_URL")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, os.Args[len(os.Args)-1], os.Getenv("MCP_CONFORMANCE_SCENARIO")); err != nil {
		fmt.Fprintln(os.Stderr, "conformance client:", err)
		os.Exit(1)
	}
}

// env is an app environment whose user accepts every elicitation with the
// requested schema's defaults.
type env struct{ *appstest.Env }

func (e env) Elicit(_ context.Context, _ string, schema json.RawMessage) (string, map[string]any, error) {
	var s struct {
		Properties map[string]struct {
			Default any `json:"default"`
		} `json:"properties"`
	}
	_ = json.Unmarshal(schema, &s)
	content := map[string]any{}
	for k, p := range s.Properties {
		if p.Default != nil {
			content[k] = p.Default
		}
	}
	return "accept", content, nil
}

func run(ctx context.Context, serverURL, scenario string) error {
	e := env{appstest.NewEnv()}
	e.Client = &http.Client{Timeout: 30 * time.Second}
	srv := mcp.Server{Name: "conformance", URL: serverURL}
	if strings.HasPrefix(scenario, "auth/") {
		client, err := preRegistered(ctx, serverURL, os.Getenv("MCP_CONFORMANCE_CONTEXT"))
		if err != nil {
			return err
		}
		tok, err := signIn(ctx, serverURL, client)
		if err != nil {
			return fmt.Errorf("sign in: %w", err)
		}
		srv.OAuth = true
		e.Cred = &apps.Credential{Provider: mcp.CredentialProvider, AccessToken: tok, TokenType: "Bearer"}
	}
	raw, _ := json.Marshal(srv)
	a, err := mcp.New(srv.ID(), raw)
	if err != nil {
		return err
	}
	sp, err := a.(apps.Describing).Describe(ctx, e)
	closeApp(a)
	if err != nil {
		return fmt.Errorf("describe: %w", err)
	}
	srv.Tools = sp.Functions
	raw, _ = json.Marshal(srv)
	if a, err = mcp.New(srv.ID(), raw); err != nil {
		return err
	}
	defer closeApp(a)
	for _, f := range sp.Functions {
		out, err := a.Call(ctx, e, f.Name, argsFor(f.Request))
		fmt.Fprintf(os.Stderr, "call %s: %s %v\n", f.Name, out, err)
	}
	return nil
}

func closeApp(a apps.App) {
	if c, ok := a.(io.Closer); ok {
		_ = c.Close()
	}
}

// argsFor fills a tool's required properties with a value of their type.
func argsFor(schema json.RawMessage) json.RawMessage {
	var s struct {
		Properties map[string]struct {
			Type    any   `json:"type"`
			Default any   `json:"default"`
			Enum    []any `json:"enum"`
		} `json:"properties"`
	}
	_ = json.Unmarshal(schema, &s)
	args := map[string]any{}
	n := 2
	for k, p := range s.Properties {
		switch {
		case p.Default != nil:
			args[k] = p.Default
		case len(p.Enum) > 0:
			args[k] = p.Enum[0]
		default:
			switch fmt.Sprint(p.Type) {
			case "number", "integer":
				args[k] = n
				n++
			case "boolean":
				args[k] = true
			case "string":
				args[k] = "conformance"
			}
		}
	}
	b, _ := json.Marshal(args)
	return b
}

// The client runs as an operator who allowed the 2025-03-26 default
// endpoints (oauth_default_endpoints) for the server: they are used only
// when the server publishes no metadata at all.

// preRegistered is the client the scenario registered beforehand, from
// the suite's context (MCP_CONFORMANCE_CONTEXT: client_id, client_secret),
// as an operator configures it: with the issuer of the authorization
// server it is registered at, which the operator reads from the server's
// documentation and this program from the server's protected resource
// metadata. nil when the context has no client.
func preRegistered(ctx context.Context, serverURL, raw string) (*connect.MCPClient, error) {
	var sc struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if raw == "" {
		return nil, nil
	}
	if err := json.Unmarshal([]byte(raw), &sc); err != nil {
		return nil, fmt.Errorf("MCP_CONFORMANCE_CONTEXT: %w", err)
	}
	if sc.ClientID == "" {
		return nil, nil
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.Scheme+"://"+u.Host+"/.well-known/oauth-protected-resource"+u.Path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("protected resource metadata: %w", err)
	}
	defer resp.Body.Close()
	var prm struct {
		AuthorizationServers []string `json:"authorization_servers"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&prm); err != nil || len(prm.AuthorizationServers) == 0 {
		return nil, fmt.Errorf("protected resource metadata names no authorization server (%v)", err)
	}
	return &connect.MCPClient{ID: sc.ClientID, Secret: sc.ClientSecret, Issuer: prm.AuthorizationServers[0]}, nil
}

// signIn runs the hub's MCP authorization flow for the server, as client
// when the scenario pre-registered one: the consent link is opened by a
// browser that follows redirects to the loopback callback.
func signIn(ctx context.Context, serverURL string, client *connect.MCPClient) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	key := make([]byte, connect.KeySize)
	_, _ = rand.Read(key)
	const app = ids.AppID("mcp.conformance")
	m, err := connect.NewMCP(connect.MCPConfig{Servers: []connect.MCPServer{{App: app, URL: serverURL, Client: client, DefaultEndpoints: true}}, AllowHTTP: true,
		RedirectURL: "http://" + ln.Addr().String() + connect.MCPCallbackPath, Key: key,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}, memstore.New(memstore.Options{}))
	if err != nil {
		return "", err
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = connect.ServePath(sctx, ln, connect.MCPCallbackPath, m) }()
	const user = ids.UserID("conformance:user")
	_, err = m.Credential(ctx, user, app)
	var se *connect.SignInError
	if !errors.As(err, &se) {
		return "", fmt.Errorf("no sign-in link: %v", err)
	}
	resp, err := http.Get(se.URL)
	if err != nil {
		return "", fmt.Errorf("open the sign-in link: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("sign-in ended with http %d: %s", resp.StatusCode, body)
	}
	c, err := m.Credential(ctx, user, app)
	if err != nil || c == nil {
		return "", fmt.Errorf("no token after sign-in: %v", err)
	}
	return c.AccessToken, nil
}
