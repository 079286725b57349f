// Package gapi is the little the mail and drive apps need to call Google's
// REST APIs: OAuth2 credentials from the app's config (inline or in
// Google's usual JSON files), an HTTP client that adds the bearer token on
// top of the hub's egress-proxy client, and JSON calls with Google's error
// format.
//
// Only packages under apps/ import it.
package gapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// DefaultTokenURL is Google's OAuth2 token endpoint (the one place the
// "google" backends reach outside googleapis.com would be the consent page,
// which runs on the user's own machine, never in a spoke).
const DefaultTokenURL = "https://oauth2.googleapis.com/token"

// ErrNoCredentials is returned by Credentials.Client when the config names
// neither an access token nor a refresh token with its OAuth client.
var ErrNoCredentials = errors.New("no Google credentials configured: set access_token, or refresh_token with client_id and client_secret, or token_file")

// maxBody bounds every response read from Google (or whatever answers at
// the configured base URL).
const maxBody = 8 << 20

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
	// TokenURL defaults to DefaultTokenURL; tests point it at a local server.
	TokenURL string `json:"token_url,omitempty"`
	// TokenFile is a saved token: either golang.org/x/oauth2's Token JSON
	// (access_token, refresh_token, expiry) or google-auth's
	// "authorized_user" JSON (token, refresh_token, client_id,
	// client_secret, token_uri).
	TokenFile string `json:"token_file,omitempty"`
	// ClientCredentials is the OAuth client JSON downloaded from the Google
	// Cloud console ({"installed": {...}} or {"web": {...}}).
	ClientCredentials string `json:"client_credentials,omitempty"`
	// BaseURL overrides the API's base URL (tests use a local server).
	BaseURL string `json:"base_url,omitempty"`
}

// tokenFile covers both saved-token formats.
type tokenFile struct {
	AccessToken  string    `json:"access_token"`
	Token        string    `json:"token"`
	RefreshToken string    `json:"refresh_token"`
	Expiry       time.Time `json:"expiry"`
	ClientID     string    `json:"client_id"`
	ClientSecret string    `json:"client_secret"`
	TokenURI     string    `json:"token_uri"`
}

type clientFile struct {
	Installed *clientSecrets `json:"installed"`
	Web       *clientSecrets `json:"web"`
}

type clientSecrets struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	TokenURI     string `json:"token_uri"`
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// resolve merges the files into the inline fields.
func (c Credentials) resolve() (Credentials, time.Time, error) {
	var expiry time.Time
	if c.ClientCredentials != "" {
		var cf clientFile
		if err := readJSON(c.ClientCredentials, &cf); err != nil {
			return c, expiry, fmt.Errorf("read client_credentials: %w", err)
		}
		s := cf.Installed
		if s == nil {
			s = cf.Web
		}
		if s == nil {
			return c, expiry, fmt.Errorf("read client_credentials: neither \"installed\" nor \"web\" client in %s", c.ClientCredentials)
		}
		c.ClientID = orElse(c.ClientID, s.ClientID)
		c.ClientSecret = orElse(c.ClientSecret, s.ClientSecret)
		c.TokenURL = orElse(c.TokenURL, s.TokenURI)
	}
	if c.TokenFile != "" {
		var tf tokenFile
		if err := readJSON(c.TokenFile, &tf); err != nil {
			return c, expiry, fmt.Errorf("read token_file: %w", err)
		}
		c.AccessToken = orElse(c.AccessToken, orElse(tf.AccessToken, tf.Token))
		c.RefreshToken = orElse(c.RefreshToken, tf.RefreshToken)
		c.ClientID = orElse(c.ClientID, tf.ClientID)
		c.ClientSecret = orElse(c.ClientSecret, tf.ClientSecret)
		c.TokenURL = orElse(c.TokenURL, tf.TokenURI)
		expiry = tf.Expiry
	}
	c.TokenURL = orElse(c.TokenURL, DefaultTokenURL)
	return c, expiry, nil
}

// Client returns a client that sends the configured token with every
// request, over base's transport (the egress proxy in a spoke). Refreshing
// an expired token also goes through base.
func (c Credentials) Client(ctx context.Context, base *http.Client) (*http.Client, error) {
	if base == nil {
		base = http.DefaultClient
	}
	r, expiry, err := c.resolve()
	if err != nil {
		return nil, err
	}
	var ts oauth2.TokenSource
	switch {
	case r.RefreshToken != "" && r.ClientID != "":
		cfg := oauth2.Config{
			ClientID:     r.ClientID,
			ClientSecret: r.ClientSecret,
			Endpoint:     oauth2.Endpoint{TokenURL: r.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		}
		// The token source keeps this context for later refreshes; the
		// client lives no longer than one invocation.
		ts = cfg.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, base), &oauth2.Token{
			AccessToken: r.AccessToken, RefreshToken: r.RefreshToken, Expiry: expiry, TokenType: "Bearer",
		})
	case r.AccessToken != "":
		ts = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: r.AccessToken, TokenType: "Bearer"})
	default:
		return nil, ErrNoCredentials
	}
	return &http.Client{
		Transport:     &oauth2.Transport{Source: ts, Base: base.Transport},
		CheckRedirect: base.CheckRedirect,
		Timeout:       base.Timeout,
	}, nil
}

// APIError is a non-2xx answer of a Google API.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("google api: http %d", e.Status)
	}
	return fmt.Sprintf("google api: http %d: %s", e.Status, e.Message)
}

// API calls one Google REST API.
type API struct {
	HTTP *http.Client
	// Base is the API root, e.g. "https://gmail.googleapis.com/gmail/v1".
	Base string
}

// Do sends method to Base+path?query with body encoded as JSON (when not
// nil) and decodes a JSON answer into out (when not nil).
func (a API) Do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	raw, err := a.Raw(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	if out == nil || len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode %s %s answer: %w", method, path, err)
	}
	return nil
}

// Raw is Do returning the answer's bytes (at most 8 MiB).
func (a API) Raw(ctx context.Context, method, path string, query url.Values, body any) ([]byte, error) {
	u := strings.TrimRight(a.Base, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("read %s %s answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var ge struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(raw, &ge) // best effort: Google's error envelope
		return nil, fmt.Errorf("%s %s: %w", method, path, &APIError{Status: resp.StatusCode, Message: ge.Error.Message})
	}
	return raw, nil
}
