package gapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClientCredentialSources(t *testing.T) {
	var gotAuth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			r.ParseForm()
			if r.Form.Get("client_id") != "web-client" || r.Form.Get("refresh_token") != "r" {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"error":"invalid_client"}`)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"from-refresh","token_type":"Bearer","expires_in":60}`)
			return
		}
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"error":{"code":403,"message":"Insufficient Permission"}}`)
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	web := filepath.Join(dir, "web.json")
	os.WriteFile(web, []byte(`{"web":{"client_id":"web-client","client_secret":"s","token_uri":"`+srv.URL+`/token"}}`), 0o600)
	neither := filepath.Join(dir, "neither.json")
	os.WriteFile(neither, []byte(`{"other":{}}`), 0o600)

	tests := []struct {
		name     string
		c        Credentials
		wantAuth string
		wantErr  string
	}{
		{"static", Credentials{AccessToken: "a"}, "Bearer a", ""},
		{"web client file and inline refresh token", Credentials{ClientCredentials: web, RefreshToken: "r"}, "Bearer from-refresh", ""},
		{"refresh token without client falls back to access token", Credentials{AccessToken: "a", RefreshToken: "r"}, "Bearer a", ""},
		{"nothing", Credentials{}, "", ErrNoCredentials.Error()},
		{"client file of unknown kind", Credentials{ClientCredentials: neither, AccessToken: "a"}, "", "neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotAuth = nil
			hc, err := tt.c.Client(t.Context(), srv.Client())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var out struct {
				OK bool `json:"ok"`
			}
			if err := (API{HTTP: hc, Base: srv.URL}).Do(t.Context(), http.MethodGet, "/x", nil, nil, &out); err != nil || !out.OK {
				t.Fatalf("Do: %v %v", out, err)
			}
			if len(gotAuth) != 1 || gotAuth[0] != tt.wantAuth {
				t.Errorf("Authorization %q, want %q", gotAuth, tt.wantAuth)
			}
		})
	}

	hc, _ := Credentials{AccessToken: "a"}.Client(t.Context(), srv.Client())
	err := API{HTTP: hc, Base: srv.URL}.Do(t.Context(), http.MethodGet, "/fail", nil, nil, nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || ae.Message != "Insufficient Permission" {
		t.Errorf("error %v, want a 403 APIError with Google's message", err)
	}
}
