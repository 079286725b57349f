package slackfake

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func post(t *testing.T, u, contentType, body, token string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header, out
}

func TestWebAPI(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	api := s.APIURL()
	blocks := `[{"type":"section","text":{"type":"mrkdwn","text":"hi"}}]`
	tests := []struct {
		name, method, ctype, body, token string
		ok                               bool
		errCode                          string
	}{
		{"form with token field", "chat.postMessage", "application/x-www-form-urlencoded",
			url.Values{"token": {DefaultBotToken}, "channel": {"C1"}, "text": {"hi"}, "blocks": {blocks}}.Encode(), "", true, ""},
		{"json with bearer and block array", "chat.postMessage", "application/json",
			`{"channel":"C1","text":"hi","blocks":` + blocks + `}`, DefaultBotToken, true, ""},
		{"no token", "chat.postMessage", "application/json", `{"channel":"C1","text":"hi"}`, "", false, "not_authed"},
		{"app token on a bot method", "auth.test", "application/json", ``, DefaultAppToken, false, "invalid_auth"},
		{"bot token on connections.open", "apps.connections.open", "application/json", ``, DefaultBotToken, false, "invalid_auth"},
		{"no text", "chat.postMessage", "application/json", `{"channel":"C1"}`, DefaultBotToken, false, "no_text"},
		{"section too long", "chat.postMessage", "application/json",
			`{"channel":"C1","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"` + strings.Repeat("x", 3001) + `"}}]}`, DefaultBotToken, false, "invalid_blocks"},
		{"update unknown", "chat.update", "application/json", `{"channel":"C1","ts":"9.9","text":"x"}`, DefaultBotToken, false, "message_not_found"},
		{"unknown method", "users.list", "application/json", `{}`, DefaultBotToken, false, "unknown_method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, out := post(t, api+tt.method, tt.ctype, tt.body, tt.token)
			if code != 200 || out["ok"] != tt.ok || (tt.errCode != "" && out["error"] != tt.errCode) {
				t.Errorf("%s: status %d, body %v", tt.method, code, out)
			}
		})
	}
	ms := s.Messages()
	if len(ms) != 2 || string(ms[1].Blocks) != blocks {
		t.Errorf("messages = %+v", ms)
	}
}

func TestFaultsAndRetryAfter(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.Inject("auth.test", Fault{Status: 429, RetryAfter: 7})
	code, h, _ := post(t, s.APIURL()+"auth.test", "application/json", "", DefaultBotToken)
	if code != 429 || h.Get("Retry-After") != "7" {
		t.Errorf("status %d, Retry-After %q", code, h.Get("Retry-After"))
	}
	if code, _, out := post(t, s.APIURL()+"auth.test", "application/json", "", DefaultBotToken); code != 200 || out["user_id"] != DefaultBotUserID {
		t.Errorf("fault applied twice: %d %v", code, out)
	}
	calls := s.Calls("auth.test")
	if len(calls) != 2 || calls[0].Status != 429 || calls[1].Status != 200 {
		t.Errorf("calls = %+v", calls)
	}
}

func TestResponseURLReplacesOriginal(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	_, _, out := post(t, s.APIURL()+"chat.postMessage", "application/json", `{"channel":"C1","text":"prompt"}`, DefaultBotToken)
	ts := out["ts"].(string)
	env := s.NewClickEnvelope(Click{User: "U1", Channel: "C1", MessageTS: ts, Button: Button{ActionID: "a", Value: "v"}})
	var payload struct {
		ResponseURL string `json:"response_url"`
	}
	if err := json.Unmarshal(env.Payload, &payload); err != nil {
		t.Fatal(err)
	}
	code, _, _ := post(t, payload.ResponseURL, "application/json", `{"replace_original":true,"text":"decided"}`, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := s.WaitMessage(ctx, "replaced", func(m Message) bool { return m.TS == ts && m.Text == "decided" })
	if code != 200 || err != nil || m.Updates != 1 {
		t.Errorf("status %d, err %v, message %+v", code, err, m)
	}
}
