package matrix

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

func TestSplitMarkdown(t *testing.T) {
	fence := "```go\n" + strings.Repeat("x := 1\n", 30) + "```\n"
	tests := []struct {
		name   string
		text   string
		max    int
		pieces int // 0: don't check the count
	}{
		{"short", "hello", 100, 1},
		{"paragraphs", strings.Repeat("para one two three\n\n", 20), 100, 0},
		{"no spaces", strings.Repeat("x", 250), 100, 3},
		{"multibyte", strings.Repeat("é€😀", 100), 50, 0},
		{"fence", fence, 80, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitMarkdown(tt.text, tt.max)
			if tt.pieces > 0 && len(got) != tt.pieces {
				t.Errorf("%d pieces, want %d", len(got), tt.pieces)
			}
			for i, p := range got {
				if len(p) > tt.max {
					t.Errorf("piece %d is %d bytes > %d", i, len(p), tt.max)
				}
				if !utf8.ValidString(p) {
					t.Errorf("piece %d is not valid UTF-8", i)
				}
				if strings.Count(p, "```")%2 != 0 {
					t.Errorf("piece %d leaves a code fence open:\n%s", i, p)
				}
			}
			if strip(strings.Join(got, "")) != strip(strings.ReplaceAll(tt.text, "```go", "")) &&
				!strings.Contains(tt.text, "```") {
				t.Errorf("text changed by splitting")
			}
		})
	}
}

// strip drops whitespace and fence markers, which splitting may add or move.
func strip(s string) string {
	s = strings.ReplaceAll(s, "```go", "")
	s = strings.ReplaceAll(s, "```", "")
	return strings.Join(strings.Fields(s), "")
}

func FuzzSplitMarkdown(f *testing.F) {
	f.Add("hello\n\nworld", 8)
	f.Add("```\ncode\n```\ntext", 10)
	f.Add(strings.Repeat("😀", 10), 5)
	f.Fuzz(func(t *testing.T, text string, max int) {
		if max < 16 || max > 4096 || !utf8.ValidString(text) {
			t.Skip()
		}
		got := splitMarkdown(text, max)
		for _, p := range got {
			if len(p) > max {
				t.Fatalf("piece of %d bytes > %d", len(p), max)
			}
			if !utf8.ValidString(p) {
				t.Fatalf("invalid UTF-8 piece %q", p)
			}
		}
		if strip(strings.Join(got, "")) != strip(text) {
			t.Fatalf("content changed: %q -> %q", text, got)
		}
	})
}

func httpErr(status int, body map[string]any, header http.Header) error {
	res := &http.Response{StatusCode: status, Header: header}
	re := &mautrix.RespError{StatusCode: status, ExtraData: body}
	re.ErrCode, _ = body["errcode"].(string)
	if re.ErrCode == "" {
		re = nil
	}
	return mautrix.HTTPError{Response: res, RespError: re}
}

func TestRetryAfter(t *testing.T) {
	const backoff = 3 * time.Second
	tests := []struct {
		name  string
		err   error
		wait  time.Duration
		retry bool
	}{
		{"nil", nil, 0, false},
		{"limit with retry_after_ms", httpErr(429, map[string]any{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 1500.0}, nil), 1500 * time.Millisecond, true},
		{"limit without hint", httpErr(429, map[string]any{"errcode": "M_LIMIT_EXCEEDED"}, nil), backoff, true},
		{"429 with header", httpErr(429, map[string]any{}, http.Header{"Retry-After": {"7"}}), 7 * time.Second, true},
		{"bad gateway", httpErr(502, map[string]any{}, nil), backoff, true},
		{"forbidden", httpErr(403, map[string]any{"errcode": "M_FORBIDDEN"}, nil), 0, false},
		{"no response", mautrix.HTTPError{WrappedError: errors.New("connection refused")}, backoff, true},
		{"canceled", context.Canceled, 0, false},
		{"other", errors.New("boom"), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, retry := retryAfter(tt.err, backoff)
			if wait != tt.wait || retry != tt.retry {
				t.Errorf("retryAfter = %s, %v; want %s, %v", wait, retry, tt.wait, tt.retry)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	limited := httpErr(429, map[string]any{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 1.0}, nil)
	final := httpErr(403, map[string]any{"errcode": "M_FORBIDDEN"}, nil)
	tests := []struct {
		name     string
		errs     []error // returned by successive calls; nil after the end
		wantErr  error
		attempts int
	}{
		{"ok", nil, nil, 1},
		{"limited then ok", []error{limited, limited}, nil, 3},
		{"final error is not retried", []error{final}, final, 1},
		{"gives up", []error{limited, limited, limited, limited, limited, limited, limited}, limited, maxAttempts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			err := retry(context.Background(), time.Millisecond, 5*time.Millisecond, func(context.Context) error {
				n++
				if n <= len(tt.errs) {
					return tt.errs[n-1]
				}
				return nil
			})
			if n != tt.attempts {
				t.Errorf("%d attempts, want %d", n, tt.attempts)
			}
			if (err == nil) != (tt.wantErr == nil) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := retry(ctx, time.Hour, time.Hour, func(context.Context) error { return limited })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("retry with a canceled context = %v", err)
	}
}

func member(user id.UserID, membership, prev string) *event.Event {
	sk := string(user)
	e := &event.Event{Type: event.StateMember, StateKey: &sk, Content: event.Content{Raw: map[string]any{"membership": membership}}}
	if prev != "" {
		e.Unsigned.PrevContent = &event.Content{Raw: map[string]any{"membership": prev}}
	}
	return e
}

func msg(evID string) *event.Event {
	return &event.Event{Type: event.EventMessage, ID: id.EventID(evID)}
}

func TestDropOldEvents(t *testing.T) {
	const self = id.UserID("@bot:x")
	tests := []struct {
		name  string
		since string
		evts  []*event.Event
		want  []string // remaining message IDs
	}{
		{"first sync drops history", "", []*event.Event{msg("a"), msg("b")}, nil},
		{"incremental keeps all", "s1", []*event.Event{msg("a"), msg("b")}, []string{"a", "b"}},
		{"history before own join dropped", "s1", []*event.Event{msg("old"), member(self, "join", "invite"), msg("new")}, []string{"new"}},
		{"profile change is not a join", "s1", []*event.Event{msg("a"), member(self, "join", "join"), msg("b")}, []string{"a", "b"}},
		{"someone else's join", "s1", []*event.Event{msg("a"), member("@alice:x", "join", ""), msg("b")}, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &mautrix.RespSync{}
			resp.Rooms.Join = map[id.RoomID]*mautrix.SyncJoinedRoom{"!r:x": {Timeline: mautrix.SyncTimeline{SyncEventsList: mautrix.SyncEventsList{Events: tt.evts}}}}
			dropOldEvents(self, resp, tt.since)
			var got []string
			states := 0
			for _, e := range resp.Rooms.Join["!r:x"].Timeline.Events {
				if e.StateKey != nil {
					states++
					continue
				}
				got = append(got, string(e.ID))
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("kept %v, want %v", got, tt.want)
			}
			wantStates := 0
			for _, e := range tt.evts {
				if e.StateKey != nil {
					wantStates++
				}
			}
			if states != wantStates {
				t.Errorf("kept %d state events, want %d", states, wantStates)
			}
		})
	}
}

func TestDecisionForKey(t *testing.T) {
	tests := []struct {
		key  string
		want chat.Decision
		ok   bool
	}{
		{"✅", chat.AllowOnce, true},
		{"🔁", chat.AllowSession, true},
		{"♾️", chat.AllowAlways, true},
		{"♾", chat.AllowAlways, true},
		{"❌", chat.Deny, true},
		{"👍", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		d, ok := decisionForKey(tt.key)
		if d != tt.want || ok != tt.ok {
			t.Errorf("decisionForKey(%q) = %q, %v; want %q, %v", tt.key, d, ok, tt.want, tt.ok)
		}
	}
	seen := map[chat.Decision]bool{}
	for _, c := range choices {
		seen[c.decision] = true
	}
	for _, d := range chat.Decisions {
		if !seen[d] {
			t.Errorf("no reaction offers %q", d)
		}
	}
}

func TestRenderPrompt(t *testing.T) {
	p := chat.Prompt{
		ID: "p1", User: "matrix:@alice:x", Kind: chat.KindData, Target: "evil<script>",
		Data: "<img src=x onerror=alert(1)>", Unplanned: true, Reason: "because",
		ExpiresAt: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC),
	}
	tests := []struct {
		name    string
		res     *resolution
		want    []string
		notWant []string
	}{
		{"pending", nil, []string{"@alice:x", "Warning", "<img src=x onerror=alert(1)>", "✅ Allow once", "❌ Deny", "12:00:00"}, []string{"Decision"}},
		{"allowed", &resolution{decision: chat.AllowSession, by: "@alice:x"}, []string{"Decision: Allow for this session, by @alice:x"}, []string{"React:"}},
		{"denied by hub", &resolution{decision: chat.Deny}, []string{"Decision: Deny, by the hub"}, nil},
		{"expired", &resolution{decision: chat.Deny, expired: true}, []string{"Expired"}, []string{"React:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := renderPrompt(p, "@alice:x", tt.res)
			for _, w := range tt.want {
				if !strings.Contains(c.Body, w) {
					t.Errorf("body lacks %q:\n%s", w, c.Body)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(c.Body, w) {
					t.Errorf("body has %q:\n%s", w, c.Body)
				}
			}
			for _, bad := range []string{"<img", "<script>"} {
				if strings.Contains(c.FormattedBody, bad) {
					t.Errorf("HTML body contains unescaped %q", bad)
				}
			}
			if tt.res == nil && (c.Mentions == nil || len(c.Mentions.UserIDs) != 1 || c.Mentions.UserIDs[0] != "@alice:x") {
				t.Errorf("pending prompt does not mention the asked user: %+v", c.Mentions)
			}
		})
	}
}

func TestAddressed(t *testing.T) {
	a := &Adapter{cfg: Config{CommandPrefix: "!secgpt"}, cli: &mautrix.Client{UserID: "@bot:x"}, displayName: "SecBot"}
	tests := []struct {
		name     string
		content  event.MessageEventContent
		text     string
		addessed bool
	}{
		{"plain", event.MessageEventContent{Body: "hello"}, "hello", false},
		{"prefix", event.MessageEventContent{Body: "!secgpt  book a ride"}, "book a ride", true},
		{"prefix case", event.MessageEventContent{Body: "!SecGPT hi"}, "hi", true},
		{"prefix glued", event.MessageEventContent{Body: "!secgptx hi"}, "!secgptx hi", false},
		{"mxid", event.MessageEventContent{Body: "@bot:x: hi"}, "hi", true},
		{"localpart", event.MessageEventContent{Body: "bot, hi"}, "hi", true},
		{"display name pill", event.MessageEventContent{Body: "SecBot: hi"}, "hi", true},
		{"botany is not bot", event.MessageEventContent{Body: "botany rocks"}, "botany rocks", false},
		{"m.mentions", event.MessageEventContent{Body: "hey you", Mentions: &event.Mentions{UserIDs: []id.UserID{"@bot:x"}}}, "hey you", true},
		{"html pill", event.MessageEventContent{Body: "hi there", FormattedBody: `hi <a href="https://matrix.to/#/@bot:x">there</a>`}, "hi there", true},
		{"one prefix for a command", event.MessageEventContent{Body: "!secgpt grants"}, "!grants", true},
		{"command with argument", event.MessageEventContent{Body: "!secgpt revoke quick_ride"}, "!revoke quick_ride", true},
		{"facts", event.MessageEventContent{Body: "!secgpt facts"}, "!facts", true},
		{"forget a fact", event.MessageEventContent{Body: "!secgpt forget diagnosis"}, "!forget diagnosis", true},
		{"connect an account", event.MessageEventContent{Body: "!secgpt connect google"}, "!connect google", true},
		{"disconnect an account", event.MessageEventContent{Body: "!secgpt disconnect google"}, "!disconnect google", true},
		{"a request starting with connect", event.MessageEventContent{Body: "!secgpt connect me with Bob"}, "connect me with Bob", true},
		{"old double prefix still works", event.MessageEventContent{Body: "!secgpt !grants"}, "!grants", true},
		{"a request starting with a command word", event.MessageEventContent{Body: "!secgpt help me book a ride"}, "help me book a ride", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, ok := a.addressed(&tt.content)
			if text != tt.text || ok != tt.addessed {
				t.Errorf("addressed = %q, %v; want %q, %v", text, ok, tt.text, tt.addessed)
			}
		})
	}
}

func FuzzAddressed(f *testing.F) {
	f.Add("!secgpt hi", "")
	f.Add("@bot:x: hi", `<a href="https://matrix.to/#/@bot:x">x</a>`)
	f.Add("b", "")
	a := &Adapter{cfg: Config{CommandPrefix: "!secgpt"}, cli: &mautrix.Client{UserID: "@bot:x"}, displayName: "Bot"}
	f.Fuzz(func(t *testing.T, body, formatted string) {
		text, _ := a.addressed(&event.MessageEventContent{Body: body, FormattedBody: formatted})
		if len(text) > len(body) {
			t.Fatalf("text %q longer than body %q", text, body)
		}
		if !strings.Contains(body, strings.TrimPrefix(text, "!")) {
			t.Fatalf("text %q is not part of body %q", text, body)
		}
	})
}

func TestSessionStore(t *testing.T) {
	dir := t.TempDir()
	st, err := openSessionStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := st.SaveNextBatch(ctx, "", "s42"); err != nil {
		t.Fatal(err)
	}
	if err := st.update(func(s *session) { s.DeviceID = "DEV" }); err != nil {
		t.Fatal(err)
	}
	k1, err := st.pickleKey()
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, sessionFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("session file mode %v, want 0600", fi.Mode().Perm())
	}
	again, err := openSessionStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	nb, _ := again.LoadNextBatch(ctx, "")
	k2, _ := again.pickleKey()
	if nb != "s42" || again.get().DeviceID != "DEV" || k1 != k2 || len(k1) != 64 {
		t.Errorf("reopened session = %+v (pickle key %q vs %q)", again.get(), k2, k1)
	}
	if err := os.WriteFile(filepath.Join(dir, sessionFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openSessionStore(dir); err == nil || !strings.Contains(err.Error(), "decode matrix session") {
		t.Errorf("corrupt session file: err = %v", err)
	}
}

func TestSeenSet(t *testing.T) {
	s := newSeenSet(2)
	if !s.add("a") || s.add("a") {
		t.Fatal("a should be new once")
	}
	s.add("b")
	s.add("c") // evicts a
	if !s.add("a") {
		t.Error("a should have been forgotten after eviction")
	}
	if s.add("c") {
		t.Error("c should still be remembered")
	}
	s.forget("c")
	if !s.add("c") {
		t.Error("c should be new after forget")
	}
}

func TestAllowed(t *testing.T) {
	c := Config{AllowUsers: []string{"@alice:a.org"}, AllowServers: []string{"B.org"}}
	tests := []struct {
		user id.UserID
		want bool
	}{
		{"@alice:a.org", true},
		{"@bob:a.org", false},
		{"@carol:b.org", true},
		{"@mallory:evil.org", false},
		{"@mallory:b.org.evil.org", false},
		{"not-an-id", false},
	}
	for _, tt := range tests {
		if got := c.allowed(tt.user); got != tt.want {
			t.Errorf("allowed(%s) = %v, want %v", tt.user, got, tt.want)
		}
	}
}

func TestPromptFor(t *testing.T) {
	const room, other = id.RoomID("!r:x"), id.RoomID("!o:x")
	alice, bob := id.UserID("@alice:x"), id.UserID("@bob:x")
	conv := &conversation{room: room}
	mk := func(ev id.EventID, asked id.UserID, c *conversation) *shownPrompt {
		return &shownPrompt{p: chat.Prompt{ID: ids.PromptID(ev)}, conv: c, event: ev, asked: asked}
	}
	tests := []struct {
		name    string
		prompts []*shownPrompt
		replyTo id.EventID
		sender  id.UserID
		want    id.EventID
		waiting int
	}{
		{"one waits: bare answer binds", []*shownPrompt{mk("$a", alice, conv)}, "", alice, "$a", 1},
		{"two wait: bare answer refused", []*shownPrompt{mk("$a", alice, conv), mk("$b", alice, conv)}, "", alice, "", 2},
		{"two wait: reply binds to the replied one", []*shownPrompt{mk("$a", alice, conv), mk("$b", alice, conv)}, "$a", alice, "$a", 1},
		{"reply by someone else still binds (hub refuses)", []*shownPrompt{mk("$a", alice, conv)}, "$a", bob, "$a", 1},
		{"bare answer from someone else: nothing", []*shownPrompt{mk("$a", alice, conv)}, "", bob, "", 0},
		{"reply to a prompt in another room: nothing", []*shownPrompt{mk("$a", alice, &conversation{room: other})}, "$a", alice, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Adapter{prompts: map[id.EventID]*shownPrompt{}}
			for _, sp := range tt.prompts {
				a.prompts[sp.event] = sp
			}
			sp, waiting := a.promptFor(room, "", tt.replyTo, tt.sender)
			var got id.EventID
			if sp != nil {
				got = sp.event
			}
			if got != tt.want || waiting != tt.waiting {
				t.Fatalf("promptFor = %q, %d; want %q, %d", got, waiting, tt.want, tt.waiting)
			}
		})
	}
}

func TestOutcomeLine(t *testing.T) {
	p := chat.Prompt{Kind: chat.KindExec, Target: "quick_ride"}
	tests := []struct {
		res  resolution
		want string
	}{
		{resolution{decision: chat.AllowOnce, by: "@alice:x"}, "Permission request decided: Run app quick_ride?: Allow once, by @alice:x."},
		{resolution{decision: chat.Deny, byText: "slack:T/U"}, "Permission request decided: Run app quick_ride?: Deny, by slack:T/U."},
		{resolution{decision: chat.Deny, expired: true}, "Permission request expired (denied): Run app quick_ride?"},
	}
	for _, tt := range tests {
		if got := outcomeLine(p, &tt.res); got != tt.want {
			t.Errorf("outcomeLine = %q, want %q", got, tt.want)
		}
	}
}

func TestLookAlikeLinkIsNotALink(t *testing.T) {
	c := renderMarkdown("pay at [paypal.com](https://evil.example/x) or see [docs](https://example.com/d)")
	if strings.Contains(c.FormattedBody, `>paypal.com</a>`) {
		t.Errorf("look-alike link rendered with its text: %s", c.FormattedBody)
	}
	if !strings.Contains(c.FormattedBody, "https://evil.example/x") || !strings.Contains(c.FormattedBody, `<a href="https://example.com/d">docs</a>`) {
		t.Errorf("formatted body %s", c.FormattedBody)
	}
}
