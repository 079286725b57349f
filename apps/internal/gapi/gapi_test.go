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

	"google.golang.org/api/googleapi"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/apps/appstest"
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
		fmt.Fprint(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	web := filepath.Join(dir, "web.json")
	os.WriteFile(web, []byte(`{"web":{"client_id":"web-client","client_secret":"s","token_uri":"`+srv.URL+`/token","redirect_uris":["http://localhost"]}}`), 0o600)
	neither := filepath.Join(dir, "neither.json")
	os.WriteFile(neither, []byte(`{"other":{}}`), 0o600)
	linked := &apps.Credential{Provider: Provider, AccessToken: "user-token", TokenType: "Bearer"}

	tests := []struct {
		name     string
		c        Credentials
		cred     *apps.Credential
		wantAuth string
		wantErr  string
	}{
		{"static", Credentials{AccessToken: "a"}, nil, "Bearer a", ""},
		{"web client file and inline refresh token", Credentials{ClientCredentials: web, RefreshToken: "r"}, nil, "Bearer from-refresh", ""},
		{"refresh token without client falls back to access token", Credentials{AccessToken: "a", RefreshToken: "r"}, nil, "Bearer a", ""},
		{"nothing", Credentials{}, nil, "", ErrNoCredentials.Error()},
		{"client file of unknown kind", Credentials{ClientCredentials: neither, AccessToken: "a"}, nil, "", "client_credentials"},
		{"linked account", Credentials{}, linked, "Bearer user-token", ""},
		{"linked account wins over config", Credentials{AccessToken: "operator"}, linked, "Bearer user-token", ""},
		{"another provider's credential is not used", Credentials{}, &apps.Credential{Provider: "github", AccessToken: "gh"}, "", ErrNoCredentials.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotAuth = nil
			env := appstest.NewEnv()
			env.Client = srv.Client()
			env.Cred = tt.cred
			hc, err := tt.c.Client(t.Context(), env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp, err := hc.Get(srv.URL + "/x")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if len(gotAuth) != 1 || gotAuth[0] != tt.wantAuth {
				t.Errorf("Authorization %q, want %q", gotAuth, tt.wantAuth)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want int
	}{
		{"plain", errors.New("x"), 0},
		{"google api error, wrapped", fmt.Errorf("list: %w", &googleapi.Error{Code: 404}), 404},
		{"nil", nil, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Status(tt.err); got != tt.want {
				t.Errorf("Status = %d, want %d", got, tt.want)
			}
		})
	}
}
