package slack

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

func eventJSON(ev map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"type": "event_callback", "team_id": "T1", "event_id": "Ev1", "event": ev})
	return b
}

func TestDecodeEvent(t *testing.T) {
	dm := func(extra map[string]any) map[string]any {
		ev := map[string]any{"type": "message", "channel_type": "im", "channel": "D1", "user": "U1", "ts": "1.000001", "text": "hi"}
		for k, v := range extra {
			ev[k] = v
		}
		return ev
	}
	tests := []struct {
		name    string
		raw     []byte
		want    inbound
		ignored bool
		bad     bool
	}{
		{name: "dm", raw: eventJSON(dm(nil)),
			want: inbound{EventID: "Ev1", Team: "T1", User: "U1", Channel: "D1", TS: "1.000001", Text: "hi", DM: true}},
		{name: "dm in thread", raw: eventJSON(dm(map[string]any{"thread_ts": "1.000000"})),
			want: inbound{EventID: "Ev1", Team: "T1", User: "U1", Channel: "D1", TS: "1.000001", ThreadTS: "1.000000", Text: "hi", DM: true}},
		{name: "user team wins", raw: eventJSON(dm(map[string]any{"team": "T2", "user_team": "T3"})),
			want: inbound{EventID: "Ev1", Team: "T3", User: "U1", Channel: "D1", TS: "1.000001", Text: "hi", DM: true}},
		{name: "mention", raw: eventJSON(map[string]any{"type": "app_mention", "channel": "C1", "user": "U1", "ts": "2.5", "text": "<@UBOT> fares &amp; times &lt;3"}),
			want: inbound{EventID: "Ev1", Team: "T1", User: "U1", Channel: "C1", TS: "2.5", Text: "fares & times <3"}},
		{name: "other mention kept", raw: eventJSON(dm(map[string]any{"text": "ask <@U9|bob>"})),
			want: inbound{EventID: "Ev1", Team: "T1", User: "U1", Channel: "D1", TS: "1.000001", Text: "ask @U9", DM: true}},
		{name: "slack markup", raw: eventJSON(dm(map[string]any{"text": "see <https://a.test/x?y=1&amp;z=2|a.test> in <#C1|general> <!here>"})),
			want: inbound{EventID: "Ev1", Team: "T1", User: "U1", Channel: "D1", TS: "1.000001", Text: "see https://a.test/x?y=1&z=2 in #general @here", DM: true}},
		{name: "bot", raw: eventJSON(dm(map[string]any{"bot_id": "B1"})), ignored: true},
		{name: "self", raw: eventJSON(dm(map[string]any{"user": "UBOT"})), ignored: true},
		{name: "app", raw: eventJSON(dm(map[string]any{"app_id": "A1"})), ignored: true},
		{name: "edit", raw: eventJSON(dm(map[string]any{"subtype": "message_changed"})), ignored: true},
		{name: "delete", raw: eventJSON(dm(map[string]any{"subtype": "message_deleted"})), ignored: true},
		{name: "join", raw: eventJSON(dm(map[string]any{"subtype": "channel_join"})), ignored: true},
		{name: "edited mention", raw: eventJSON(map[string]any{"type": "app_mention", "channel": "C1", "user": "U1", "ts": "2.5", "text": "x", "edited": map[string]any{"ts": "3.0"}}), ignored: true},
		{name: "mention in dm", raw: eventJSON(map[string]any{"type": "app_mention", "channel": "D1", "user": "U1", "ts": "2.5", "text": "x"}), ignored: true},
		{name: "channel message", raw: eventJSON(dm(map[string]any{"channel_type": "channel"})), ignored: true},
		{name: "only a mention", raw: eventJSON(dm(map[string]any{"text": "<@UBOT>"})), ignored: true},
		{name: "file share kept", raw: eventJSON(dm(map[string]any{"subtype": "file_share"})),
			want: inbound{EventID: "Ev1", Team: "T1", User: "U1", Channel: "D1", TS: "1.000001", Text: "hi", DM: true}},
		{name: "other type", raw: eventJSON(map[string]any{"type": "reaction_added"}), ignored: true},
		{name: "url verification", raw: []byte(`{"type":"url_verification"}`), ignored: true},
		{name: "not json", raw: []byte(`{`), bad: true},
		{name: "bad ts", raw: eventJSON(dm(map[string]any{"ts": "now"})), bad: true},
		{name: "injected user id", raw: eventJSON(dm(map[string]any{"user": "U1/../U2"})), bad: true},
		{name: "missing channel", raw: eventJSON(dm(map[string]any{"channel": ""})), bad: true},
		{name: "huge", raw: append([]byte(`{"type":"event_callback","x":"`), append([]byte(strings.Repeat("a", maxPayload)), `"}`...)...), bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeEvent(tt.raw, "UBOT")
			switch {
			case tt.ignored:
				if !errors.Is(err, errIgnored) {
					t.Fatalf("err = %v, want ignored", err)
				}
			case tt.bad:
				if err == nil || errors.Is(err, errIgnored) {
					t.Fatalf("err = %v, want a decode error", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("got %+v\nwant %+v", got, tt.want)
				}
			}
		})
	}
}

func clickJSON(actionID, value string) []byte {
	b, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": "U1", "team_id": "T1"}, "team": map[string]any{"id": "T9"},
		"channel": map[string]any{"id": "C1"}, "container": map[string]any{"message_ts": "1.2", "channel_id": "C1"},
		"response_url": "https://hooks.test/r", "actions": []map[string]any{{"action_id": actionID, "value": value}},
	})
	return b
}

func TestDecodeClicks(t *testing.T) {
	good := `{"p":"p1","n":"nonce"}`
	tests := []struct {
		name    string
		raw     []byte
		want    click
		ignored bool
	}{
		{name: "allow once", raw: clickJSON("secgpt_perm_once", good), want: click{Team: "T1", User: "U1", Channel: "C1",
			MessageTS: "1.2", ResponseURL: "https://hooks.test/r", Decision: chat.AllowOnce, Prompt: "p1", Nonce: "nonce"}},
		{name: "deny", raw: clickJSON("secgpt_perm_deny", good), want: click{Team: "T1", User: "U1", Channel: "C1",
			MessageTS: "1.2", ResponseURL: "https://hooks.test/r", Decision: chat.Deny, Prompt: "p1", Nonce: "nonce"}},
		{name: "other action", raw: clickJSON("something_else", good), ignored: true},
		{name: "view submission", raw: []byte(`{"type":"view_submission"}`), ignored: true},
		{name: "unknown decision", raw: clickJSON("secgpt_perm_forever", good)},
		{name: "no nonce", raw: clickJSON("secgpt_perm_once", `{"p":"p1"}`)},
		{name: "value not json", raw: clickJSON("secgpt_perm_once", "p1 nonce")},
		{name: "not json", raw: []byte(`[`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeClicks(tt.raw)
			switch {
			case tt.ignored:
				if !errors.Is(err, errIgnored) {
					t.Fatalf("err = %v, want ignored", err)
				}
			case tt.want.Prompt == "":
				if err == nil || errors.Is(err, errIgnored) {
					t.Fatalf("err = %v, want a decode error", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 1 || got[0] != tt.want {
					t.Errorf("got %+v\nwant %+v", got, tt.want)
				}
			}
		})
	}
}

func TestUserIDRoundTrip(t *testing.T) {
	u := UserID("T1", "U2")
	if u != "slack:T1/U2" || u.Platform() != "slack" {
		t.Fatalf("UserID = %q", u)
	}
	team, user, ok := splitUserID(u)
	if !ok || team != "T1" || user != "U2" {
		t.Errorf("split = %q %q %v", team, user, ok)
	}
	for _, bad := range []ids.UserID{"matrix:@a:b", "slack:T1", "slack:T1/U2/x", "slack:/U2"} {
		if _, _, ok := splitUserID(bad); ok {
			t.Errorf("splitUserID(%q) accepted", bad)
		}
	}
}

func TestPromptBlocks(t *testing.T) {
	p := chat.Prompt{ID: "p1", Nonce: "n0nce", User: "slack:T1/U1", Kind: chat.KindData, Target: "search_gmail",
		Data: strings.Repeat("secret line <!here>\n", 400), Unplanned: true, ExpiresAt: time.Unix(1700000000, 0)}
	blocks, err := promptBlocks(p)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(blocks)
	if len(blocks) > maxBlocks {
		t.Errorf("%d blocks", len(blocks))
	}
	var decoded []map[string]any
	_ = json.Unmarshal(raw, &decoded)
	var data strings.Builder
	var buttons []string
	for _, b := range decoded {
		if b["type"] == "section" {
			txt := b["text"].(map[string]any)
			if n := textLen(txt["text"].(string)); n > maxSectionText {
				t.Errorf("section of %d characters", n)
			}
			if txt["type"] == "plain_text" {
				data.WriteString(txt["text"].(string))
			}
		}
		if b["type"] == "actions" {
			for _, e := range b["elements"].([]any) {
				el := e.(map[string]any)
				buttons = append(buttons, el["action_id"].(string))
				var v buttonValue
				if err := json.Unmarshal([]byte(el["value"].(string)), &v); err != nil || v.Prompt != "p1" || v.Nonce != "n0nce" {
					t.Errorf("button value %v", el["value"])
				}
			}
		}
	}
	if data.String() != p.Data {
		t.Error("data shown is not exactly the data that would be shared")
	}
	if got := strings.Join(buttons, ","); got != "secgpt_perm_once,secgpt_perm_session,secgpt_perm_always,secgpt_perm_deny" {
		t.Errorf("buttons = %s", got)
	}
	if !strings.Contains(string(raw), "not part of the plan") {
		t.Error("no unplanned warning")
	}
	res := rawJSON(resolvedBlocks(p, chat.AllowSession, "slack:T1/U1", false))
	if strings.Contains(string(res), `"actions"`) || !strings.Contains(string(res), "Allowed for this session") || !strings.Contains(string(res), "<@U1>") {
		t.Errorf("resolved blocks: %s", res)
	}
	exp := rawJSON(resolvedBlocks(p, chat.Deny, "", true))
	if !strings.Contains(string(exp), "Expired") {
		t.Errorf("expired blocks: %s", exp)
	}
	var _ slack.Block = blocks[0]
}

// rawJSON marshals without escaping <, > and &, as Slack would show them.
func rawJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return b.Bytes()
}

func TestSeenSet(t *testing.T) {
	s := newSeenSet(2)
	for _, step := range []struct {
		key   string
		first bool
	}{{"a", true}, {"a", false}, {"b", true}, {"c", true}, {"a", true}, {"c", false}, {"", true}, {"", true}} {
		if got := s.first(step.key); got != step.first {
			t.Errorf("first(%q) = %v, want %v", step.key, got, step.first)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		retry   bool
		limited bool
		wait    time.Duration
	}{
		{"429", &slack.RateLimitedError{RetryAfter: 3 * time.Second}, true, true, 3 * time.Second},
		{"429 no header", slack.StatusCodeError{Code: 429}, true, true, time.Second},
		{"500", slack.StatusCodeError{Code: 500}, true, false, 0},
		{"404", slack.StatusCodeError{Code: 404}, false, false, 0},
		{"internal_error", slack.SlackErrorResponse{Err: "internal_error"}, true, false, 0},
		{"channel_not_found", slack.SlackErrorResponse{Err: "channel_not_found"}, false, false, 0},
		{"invalid_auth", slack.SlackErrorResponse{Err: "invalid_auth"}, false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, retry, limited := retryDelay(tt.err)
			if retry != tt.retry || limited != tt.limited || wait != tt.wait {
				t.Errorf("retryDelay = %v %v %v, want %v %v %v", wait, retry, limited, tt.wait, tt.retry, tt.limited)
			}
		})
	}
	if !isFatalAuth(slack.SlackErrorResponse{Err: "token_revoked"}) || isFatalAuth(slack.SlackErrorResponse{Err: "ratelimited"}) {
		t.Error("isFatalAuth")
	}
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add(eventJSON(map[string]any{"type": "message", "channel_type": "im", "channel": "D1", "user": "U1", "ts": "1.1", "text": "hi <@UBOT>"}))
	f.Add([]byte(`{"type":"event_callback","event":{"type":"app_mention"}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, err := decodeEvent(raw, "UBOT")
		if err != nil {
			return
		}
		// Anything accepted must make well-formed identities.
		if _, _, ok := splitUserID(UserID(in.Team, in.User)); !ok {
			t.Fatalf("accepted event gives bad user id %q", UserID(in.Team, in.User))
		}
		if in.Text == "" || !validTS(in.TS) {
			t.Fatalf("accepted %+v", in)
		}
	})
}

func FuzzDecodeClicks(f *testing.F) {
	f.Add(clickJSON("secgpt_perm_once", `{"p":"p1","n":"x"}`))
	f.Add([]byte(`{"type":"block_actions","actions":[{}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cs, err := decodeClicks(raw)
		if err != nil {
			return
		}
		for _, c := range cs {
			if !c.Decision.Valid() || c.Prompt == "" || c.Nonce == "" || !validID(c.User) || !validID(c.Team) {
				t.Fatalf("accepted %+v", c)
			}
		}
	})
}
