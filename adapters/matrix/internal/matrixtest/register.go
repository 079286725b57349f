package matrixtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"maunium.net/go/mautrix/id"
)

// registrationSecret is the shared secret of the -ci Dendrite config that
// scripts/dendrite-start.sh and this package start.
const registrationSecret = "complement"

// Register creates a fresh account through the shared-secret admin API
// (/_synapse/admin/v1/register, which Dendrite serves), for a test that
// needs an account no other test has touched (one without cross-signing
// keys, say).
func (s *Server) Register(t testing.TB, prefix string) Account {
	t.Helper()
	var raw [6]byte
	_, _ = rand.Read(raw[:])
	user := prefix + hex.EncodeToString(raw[:])
	password := user + "password1"
	url := s.URL + "/_synapse/admin/v1/register"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("register %s: get nonce: %v", user, err)
	}
	var n struct {
		Nonce string `json:"nonce"`
	}
	err = json.NewDecoder(resp.Body).Decode(&n)
	resp.Body.Close()
	if err != nil || n.Nonce == "" {
		t.Fatalf("register %s: nonce: %v", user, err)
	}
	mac := hmac.New(sha1.New, []byte(registrationSecret))
	mac.Write([]byte(n.Nonce + "\x00" + user + "\x00" + password + "\x00notadmin"))
	body, _ := json.Marshal(map[string]any{"nonce": n.Nonce, "username": user, "password": password, "admin": false,
		"mac": hex.EncodeToString(mac.Sum(nil))})
	resp, err = http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("register %s: %v", user, err)
	}
	defer resp.Body.Close()
	var r struct {
		UserID id.UserID `json:"user_id"`
		Error  string    `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&r)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("register %s: HTTP %d %s", user, resp.StatusCode, r.Error)
	}
	if r.UserID == "" {
		r.UserID = id.UserID(fmt.Sprintf("@%s:%s", user, s.ServerName))
	}
	return Account{UserID: r.UserID, Password: password}
}
