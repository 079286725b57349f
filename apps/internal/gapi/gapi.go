// Package gapi gives the mail and drive apps an authorised HTTP client for
// Google's APIs, which they call through google.golang.org/api. The token
// is, in this order: the user's own Google account, linked with
// "!connect google" and handed by the hub to this one invocation
// (apps.CredentialEnv); or the credentials in the app's config (inline, or
// Google's usual JSON files, read with golang.org/x/oauth2/google), for a
// single-user deployment. Every request, token refreshes included, goes
// over the Env's client (the egress proxy in a spoke).
//
// Only packages under apps/ import it.
package gapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/googleapi"

	"github.com/secgpt-go/secgpt/apps"
)

// Provider is the linked-account provider the apps ask the Env for.
const Provider = "google"

// ErrNoCredentials is returned by Credentials.Client when the invocation
// carries no linked account and the config names no credentials.
var ErrNoCredentials = errors.New("no Google account: link one with !connect google, or configure access_token, refresh_token with client_id and client_secret, or token_file")

// Credentials is the authentication part of a Google-backed app's config.
// Inline fields win over values read from the files.
type Credentials struct {
	// AccessToken is a bearer token used as is (until it expires).
	AccessToken string `json:"access_token,omitempty"`
	// RefreshToken, with ClientID and ClientSecret, lets the app obtain
	// fresh access tokens from TokenURL.
	RefreshToken string `json:"refresh_token,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	// TokenURL defaults to Google's (google.Endpoint); tests point it at a
	// local server.
	TokenURL string `json:"token_url,omitempty"`
	// TokenFile is a saved token: google-auth's "authorized_user" JSON
	// (refresh_token, client_id, client_secret, token_uri) or
	// golang.org/x/oauth2's Token JSON (access_token, refresh_token,
	// expiry).
	TokenFile string `json:"token_file,omitempty"`
	// ClientCredentials is the OAuth client JSON downloaded from the Google
	// Cloud console ({"installed": {...}} or {"web": {...}}).
	ClientCredentials string `json:"client_credentials,omitempty"`
	// BaseURL overrides the API's root URL (tests use a local server).
	BaseURL string `json:"base_url,omitempty"`
}

// Client returns a client that sends the invocation's Google token with
// every request, over env's client.
func (c Credentials) Client(ctx context.Context, env apps.Env) (*http.Client, error) {
	base := env.HTTPClient()
	if base == nil {
		base = http.DefaultClient
	}
	// The token sources keep this context for later refreshes; the client
	// lives no longer than one invocation.
	ctx = context.WithValue(ctx, oauth2.HTTPClient, base)
	ts, err := c.tokenSource(ctx, env)
	if err != nil {
		return nil, err
	}
	return &http.Client{
		Transport:     &oauth2.Transport{Source: ts, Base: base.Transport},
		CheckRedirect: base.CheckRedirect,
		Timeout:       base.Timeout,
	}, nil
}

func (c Credentials) tokenSource(ctx context.Context, env apps.Env) (oauth2.TokenSource, error) {
	if ce, ok := env.(apps.CredentialEnv); ok {
		if cr, ok := ce.Credential(Provider); ok {
			// The hub refreshed it; it outlives this invocation.
			return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: cr.AccessToken, TokenType: cr.TokenType, Expiry: cr.Expiry}), nil
		}
	}
	oc := oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: google.Endpoint}
	if c.ClientCredentials != "" {
		b, err := os.ReadFile(c.ClientCredentials)
		if err != nil {
			return nil, fmt.Errorf("read client_credentials: %w", err)
		}
		fc, err := google.ConfigFromJSON(b)
		if err != nil {
			return nil, fmt.Errorf("read client_credentials %s: %w", c.ClientCredentials, err)
		}
		oc.ClientID = cmpOr(c.ClientID, fc.ClientID)
		oc.ClientSecret = cmpOr(c.ClientSecret, fc.ClientSecret)
		oc.Endpoint = fc.Endpoint
	}
	if c.TokenURL != "" {
		oc.Endpoint.TokenURL = c.TokenURL
	}
	oc.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	tok := oauth2.Token{AccessToken: c.AccessToken, RefreshToken: c.RefreshToken, TokenType: "Bearer"}
	if c.TokenFile != "" && c.RefreshToken == "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("read token_file: %w", err)
		}
		var kind struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(b, &kind); err != nil {
			return nil, fmt.Errorf("read token_file %s: %w", c.TokenFile, err)
		}
		if kind.Type == string(google.AuthorizedUser) || (kind.Type == "" && strings.Contains(string(b), `"client_id"`)) {
			if kind.Type == "" {
				// gcloud and google-auth write the type; older tools did not.
				b, err = withType(b, string(google.AuthorizedUser))
				if err != nil {
					return nil, fmt.Errorf("read token_file %s: %w", c.TokenFile, err)
				}
			}
			cr, err := google.CredentialsFromJSONWithTypeAndParams(ctx, b, google.AuthorizedUser, google.CredentialsParams{TokenURL: c.TokenURL})
			if err != nil {
				return nil, fmt.Errorf("read token_file %s: %w", c.TokenFile, err)
			}
			return cr.TokenSource, nil
		}
		var ft oauth2.Token
		if err := json.Unmarshal(b, &ft); err != nil {
			return nil, fmt.Errorf("read token_file %s: %w", c.TokenFile, err)
		}
		tok.AccessToken = cmpOr(c.AccessToken, ft.AccessToken)
		tok.RefreshToken = ft.RefreshToken
		tok.Expiry = ft.Expiry
	}
	switch {
	case tok.RefreshToken != "" && oc.ClientID != "":
		return oc.TokenSource(ctx, &tok), nil
	case tok.AccessToken != "":
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok.AccessToken, TokenType: "Bearer"}), nil
	}
	return nil, ErrNoCredentials
}

// withType adds "type" to a JSON object.
func withType(b []byte, typ string) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["type"] = typ
	return json.Marshal(m)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Status returns the HTTP status of a Google API error, or 0.
func Status(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}
