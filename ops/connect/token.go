package connect

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// maxTokenAnswer bounds what a token, userinfo, metadata or registration
// endpoint may send.
const maxTokenAnswer = 64 << 10

// clientAuth is a client's credentials sent as HTTP Basic authentication.
type clientAuth struct{ id, secret string }

// postToken posts form to a token endpoint (RFC 6749 section 3.2) and
// returns the token and the scope the answer says was granted. An OAuth
// error answer is an *oauth2.RetrieveError, as golang.org/x/oauth2's
// would be.
func postToken(ctx context.Context, hc *http.Client, tokenURL string, form url.Values, basic *clientAuth, now time.Time) (*oauth2.Token, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, "", fmt.Errorf("build token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic != nil {
		req.SetBasicAuth(url.QueryEscape(basic.id), url.QueryEscape(basic.secret))
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("post token request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenAnswer))
	if err != nil {
		return nil, "", fmt.Errorf("read token answer: %w", err)
	}
	var tr struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int64  `json:"expires_in"`
		Scope        string `json:"scope"`
		Error        string `json:"error"`
		Description  string `json:"error_description"`
	}
	jerr := json.Unmarshal(body, &tr)
	if resp.StatusCode/100 != 2 || tr.Error != "" {
		return nil, "", &oauth2.RetrieveError{Response: resp, Body: body, ErrorCode: tr.Error, ErrorDescription: tr.Description}
	}
	if jerr != nil || tr.AccessToken == "" {
		return nil, "", fmt.Errorf("token answer without an access token (http %d)", resp.StatusCode)
	}
	tok := &oauth2.Token{AccessToken: tr.AccessToken, TokenType: tr.TokenType, RefreshToken: tr.RefreshToken}
	if tr.ExpiresIn > 0 {
		tok.Expiry = now.Add(time.Duration(tr.ExpiresIn) * time.Second)
	}
	return tok, tr.Scope, nil
}
