package mcp

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/apps/appstest"
	"github.com/secgpt-go/secgpt/apps/mcp/authfake"
)

// TestOAuthServerUsesTheInvocationsToken: a server with oauth is called
// with the user's access token that came with the invocation, and with
// none when the invocation brought none (the server refuses it).
func TestOAuthServerUsesTheInvocationsToken(t *testing.T) {
	fake := authfake.Start()
	defer fake.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := Server{Name: "remote", URL: fake.ResourceURL, OAuth: true}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}

	env := appstest.NewEnv()
	env.Client = &http.Client{}
	env.Cred = &apps.Credential{Provider: CredentialProvider, AccessToken: fake.IssueToken("alice"), TokenType: "Bearer"}
	a := newApp(s)
	defer a.Close()
	sp, err := a.Describe(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	a.spec = sp
	out, err := a.Call(ctx, env, "remote__whoami", json.RawMessage(`{}`))
	if err != nil || !strings.Contains(string(out), "you are alice") {
		t.Fatalf("whoami: %s %v", out, err)
	}

	none := appstest.NewEnv()
	none.Client = &http.Client{}
	b := newApp(s)
	defer b.Close()
	if _, err := b.Describe(ctx, none); err == nil {
		t.Error("an invocation without a token reached the server")
	}
	for _, bad := range []Server{{Name: "x", Command: "/bin/true", OAuth: true}, {Name: "x", URL: fake.ResourceURL, OAuth: true, BearerToken: "t"}} {
		if bad.Check() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
