// Package slackfake is a local stand-in for Slack's cloud that speaks Slack's
// wire protocol: the Web API methods the SecGPT Slack adapter calls (form or
// JSON bodies, token checks, ok/error envelopes, HTTP 429 with Retry-After)
// and a Socket Mode websocket (hello, events_api and interactive envelopes,
// acks, pings, disconnects). Tests drive slack-go's real client against it
// with slack.OptionAPIURL(s.APIURL()).
//
// Only tests of adapters/slack import it (internal/ makes the compiler hold
// the package to it). It checks what Slack documents and what tests need
// (token kinds, Block Kit size limits, message existence); it is not a
// complete model of Slack.
package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Default identities of the fake workspace.
const (
	DefaultBotToken  = "xoxb-fake-bot-token"
	DefaultAppToken  = "xapp-fake-app-token"
	DefaultTeamID    = "T0FAKE"
	DefaultBotUserID = "UBOT"
	DefaultBotID     = "BBOT"
	DefaultAppID     = "AFAKE"
)

// Options configure a Server. Zero fields take the Default* values.
type Options struct {
	BotToken  string
	AppToken  string
	TeamID    string
	BotUserID string
	BotID     string
	// PingInterval is how often the server pings each websocket, as Slack
	// does; the client treats a long silence as a dead connection. Default 2s.
	PingInterval time.Duration
	// NoStreaming makes chat.startStream, chat.appendStream and
	// chat.stopStream answer unknown_method, as in a workspace without
	// Slack's native streaming.
	NoStreaming bool
}

// Call is one recorded Web API request.
type Call struct {
	Method string
	// Params holds the request's parameters: form values, or for a JSON body
	// each top-level field (strings unquoted, anything else as raw JSON).
	Params url.Values
	// JSON reports whether the body was application/json.
	JSON bool
	// Status is the HTTP status the fake answered with.
	Status int
	// Error is Slack's "error" field when ok was false.
	Error string
	At    time.Time
}

// Message is a message as the fake workspace holds it.
type Message struct {
	// User is who posted it: the bot's user id, or the sender of an event.
	User     string
	Channel  string
	TS       string
	ThreadTS string
	Text     string
	Blocks   json.RawMessage
	// Ephemeral messages are visible to EphemeralUser only.
	Ephemeral     bool
	EphemeralUser string
	Updates       int
	Deleted       bool
	// Streamed is set for a message started with chat.startStream;
	// Streaming while it has not been stopped; Appends counts its
	// chat.appendStream calls.
	Streamed, Streaming bool
	Appends             int
}

// Button is one Block Kit button found in a message.
type Button struct {
	ActionID string
	Value    string
	Text     string
	BlockID  string
	// Type is the element's type in a click's payload; "" means "button".
	Type string
}

// messageBlock is the part of a Block Kit block the button listings read.
type messageBlock struct {
	Type     string `json:"type"`
	BlockID  string `json:"block_id"`
	Elements []struct {
		Type     string          `json:"type"`
		ActionID string          `json:"action_id"`
		Value    string          `json:"value"`
		Text     json.RawMessage `json:"text"` // buttons
		// Feedback buttons elements carry two buttons.
		Positive *feedbackButton `json:"positive_button"`
		Negative *feedbackButton `json:"negative_button"`
	} `json:"elements"`
}

type feedbackButton struct {
	Text  textObj `json:"text"`
	Value string  `json:"value"`
}

// Buttons lists the buttons of m's action blocks in order.
func (m Message) Buttons() []Button {
	var blocks []messageBlock
	if json.Unmarshal(m.Blocks, &blocks) != nil {
		return nil
	}
	var out []Button
	for _, b := range blocks {
		if b.Type != "actions" {
			continue
		}
		for _, e := range b.Elements {
			var t textObj
			if e.Type == "button" && json.Unmarshal(e.Text, &t) == nil {
				out = append(out, Button{ActionID: e.ActionID, Value: e.Value, Text: t.Text, BlockID: b.BlockID})
			}
		}
	}
	return out
}

// FeedbackButtons lists the positive and negative buttons of m's
// feedback_buttons elements (in context_actions blocks), in order; each
// carries the element's action id and Type "feedback_buttons".
func (m Message) FeedbackButtons() []Button {
	var blocks []messageBlock
	if json.Unmarshal(m.Blocks, &blocks) != nil {
		return nil
	}
	var out []Button
	for _, b := range blocks {
		if b.Type != "context_actions" {
			continue
		}
		for _, e := range b.Elements {
			if e.Type != "feedback_buttons" {
				continue
			}
			for _, fb := range []*feedbackButton{e.Positive, e.Negative} {
				if fb != nil {
					out = append(out, Button{ActionID: e.ActionID, Value: fb.Value, Text: fb.Text.Text, BlockID: b.BlockID, Type: e.Type})
				}
			}
		}
	}
	return out
}

// AllText is the message's text plus the text of every block, for assertions.
func (m Message) AllText() string {
	var b strings.Builder
	b.WriteString(m.Text)
	collectText(m.Blocks, &b)
	return b.String()
}

func collectText(raw json.RawMessage, b *strings.Builder) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if t, ok := x["text"].(string); ok {
				b.WriteString("\n" + t)
			}
			for k, y := range x {
				if k != "text" || !isString(y) {
					walk(y)
				}
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(v)
}

func isString(v any) bool { _, ok := v.(string); return ok }

// Fault is a failure injected into the next call of one Web API method.
type Fault struct {
	// Status is the HTTP status (429, 500, …); 0 means 200 with SlackError.
	Status int
	// RetryAfter is the Retry-After header in seconds, sent with a 429.
	RetryAfter int
	// SlackError is the "error" of an ok:false answer (when Status is 0).
	SlackError string
	// Match, if set, limits the fault to calls whose parameters it accepts;
	// other calls pass by it.
	Match func(url.Values) bool
}

// Envelope is one Socket Mode envelope the server sends.
type Envelope struct {
	ID           string
	Type         string // events_api, interactive, slash_commands, disconnect
	Payload      json.RawMessage
	RetryAttempt int
	RetryReason  string
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	opts Options
	srv  *httptest.Server
	up   websocket.Upgrader

	mu sync.Mutex // guards all following fields
	// changed is closed and replaced on every state change, to wake waiters.
	changed  chan struct{}
	calls    []Call
	messages []*Message
	faults   map[string][]Fault
	tickets  map[string]bool
	conn     *wsConn
	conns    int
	acks     map[string]json.RawMessage
	ackCount map[string]int
	seq      int
	revoked  bool
	closed   bool
	// responseURLs maps a response_url id to the message it belongs to.
	responseURLs map[string]*Message
	// homes holds the last home tab view published for each user.
	homes map[string]json.RawMessage
}

type wsConn struct {
	c    *websocket.Conn
	wmu  sync.Mutex // serialises data frames (gorilla allows one writer)
	done chan struct{}
}

// New starts a fake on a loopback port. Close it when done.
func New(opts Options) *Server {
	if opts.BotToken == "" {
		opts.BotToken = DefaultBotToken
	}
	if opts.AppToken == "" {
		opts.AppToken = DefaultAppToken
	}
	if opts.TeamID == "" {
		opts.TeamID = DefaultTeamID
	}
	if opts.BotUserID == "" {
		opts.BotUserID = DefaultBotUserID
	}
	if opts.BotID == "" {
		opts.BotID = DefaultBotID
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 2 * time.Second
	}
	s := &Server{
		opts: opts,
		// Slack's clients send Origin: https://api.slack.com.
		up:           websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
		changed:      make(chan struct{}),
		faults:       map[string][]Fault{},
		tickets:      map[string]bool{},
		acks:         map[string]json.RawMessage{},
		ackCount:     map[string]int{},
		responseURLs: map[string]*Message{},
		homes:        map[string]json.RawMessage{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/{method}", s.serveAPI)
	mux.HandleFunc("/socket", s.serveSocket)
	mux.HandleFunc("/response/{id}", s.serveResponseURL)
	s.srv = httptest.NewServer(mux)
	return s
}

// APIURL is the value for slack.OptionAPIURL (ends in "/api/").
func (s *Server) APIURL() string { return s.srv.URL + "/api/" }

// Options returns the effective options (tokens and ids).
func (s *Server) Options() Options { return s.opts }

// Close drops the websocket and stops the HTTP server.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	c := s.conn
	s.conn = nil
	s.notifyLocked()
	s.mu.Unlock()
	if c != nil {
		_ = c.c.Close()
	}
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Revoke makes every later call with either token fail with token_revoked.
func (s *Server) Revoke() {
	s.mu.Lock()
	s.revoked = true
	s.mu.Unlock()
}

// Inject queues f for the next call of method; faults apply in order.
func (s *Server) Inject(method string, f Fault) {
	s.mu.Lock()
	s.faults[method] = append(s.faults[method], f)
	s.mu.Unlock()
}

// Calls returns the recorded calls of method ("" for all).
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callsLocked(method)
}

// Preconditions: s.mu is held.
func (s *Server) callsLocked(method string) []Call {
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Messages returns copies of all messages, in posting order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.messages))
	for _, m := range s.messages {
		out = append(out, *m)
	}
	return out
}

// Message returns the message channel/ts.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.findLocked(channel, ts); m != nil {
		return *m, true
	}
	return Message{}, false
}

// Acked reports whether the client acked envelope id, and the ack's payload.
func (s *Server) Acked(id string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.acks[id]
	return p, ok
}

// AckCount is how many times envelope id was acked.
func (s *Server) AckCount(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ackCount[id]
}

// Connections is how many websocket connections have been accepted so far.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// wait blocks until cond, evaluated with s.mu held, is true or ctx ends.
func (s *Server) wait(ctx context.Context, what string, cond func() bool) error {
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("slackfake: waiting for %s: %w", what, ctx.Err())
		}
	}
}

// WaitConnected waits until at least n websocket connections have been
// accepted and one is open.
func (s *Server) WaitConnected(ctx context.Context, n int) error {
	return s.wait(ctx, fmt.Sprintf("connection %d", n), func() bool { return s.conns >= n && s.conn != nil })
}

// WaitAck waits until envelope id is acked.
func (s *Server) WaitAck(ctx context.Context, id string) error {
	return s.wait(ctx, "ack of "+id, func() bool { _, ok := s.acks[id]; return ok })
}

// WaitCalls waits until method has been called at least n times and
// returns its calls.
func (s *Server) WaitCalls(ctx context.Context, method string, n int) ([]Call, error) {
	var out []Call
	err := s.wait(ctx, fmt.Sprintf("%d calls of %s", n, method), func() bool {
		out = s.callsLocked(method)
		return len(out) >= n
	})
	return out, err
}

// WaitMessage waits for a message (current state) matching pred. pred runs
// with the server's lock held, so it must not call the Server's methods.
func (s *Server) WaitMessage(ctx context.Context, what string, pred func(Message) bool) (Message, error) {
	var found Message
	err := s.wait(ctx, what, func() bool {
		for _, m := range s.messages {
			if pred(*m) {
				found = *m
				return true
			}
		}
		return false
	})
	return found, err
}

// Preconditions: s.mu is held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Preconditions: s.mu is held.
func (s *Server) nextLocked(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%06d", prefix, s.seq)
}

// Preconditions: s.mu is held.
func (s *Server) nextTSLocked() string {
	s.seq++
	return fmt.Sprintf("1700000000.%06d", s.seq)
}

// Preconditions: s.mu is held.
func (s *Server) findLocked(channel, ts string) *Message {
	for _, m := range s.messages {
		if m.Channel == channel && m.TS == ts && !m.Ephemeral {
			return m
		}
	}
	return nil
}

// ---- Web API ----

type apiError struct {
	status     int
	retryAfter int
	slackErr   string
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	params, isJSON, err := readParams(r)
	call := Call{Method: method, Params: params, JSON: isJSON, At: time.Now()}
	var resp map[string]any
	var ae *apiError
	switch {
	case r.Method != http.MethodPost && r.Method != http.MethodGet:
		ae = &apiError{status: http.StatusMethodNotAllowed}
	case err != nil:
		ae = &apiError{slackErr: "invalid_form_data"}
	default:
		resp, ae = s.dispatch(method, r, params)
	}
	s.mu.Lock()
	if ae != nil {
		call.Status, call.Error = ae.status, ae.slackErr
	}
	if call.Status == 0 {
		call.Status = http.StatusOK
	}
	s.calls = append(s.calls, call)
	s.notifyLocked()
	s.mu.Unlock()

	if ae != nil && ae.status != 0 {
		if ae.retryAfter > 0 || ae.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
		}
		http.Error(w, http.StatusText(ae.status), ae.status)
		return
	}
	if ae != nil {
		resp = map[string]any{"ok": false, "error": ae.slackErr}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(resp)
}

// readParams reads form or JSON parameters the way Slack accepts them.
func readParams(r *http.Request) (url.Values, bool, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return nil, true, err
		}
		var fields map[string]json.RawMessage
		if len(strings.TrimSpace(string(body))) == 0 {
			return url.Values{}, true, nil
		}
		if err := json.Unmarshal(body, &fields); err != nil {
			return nil, true, err
		}
		v := url.Values{}
		for k, raw := range fields {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				v.Set(k, str)
			} else {
				v.Set(k, string(raw))
			}
		}
		return v, true, nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, false, err
	}
	return r.Form, false, nil
}

func token(r *http.Request, params url.Values) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	return params.Get("token")
}

func (s *Server) dispatch(method string, r *http.Request, p url.Values) (map[string]any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults[method] {
		if f.Match != nil && !f.Match(p) {
			continue
		}
		s.faults[method] = append(s.faults[method][:i:i], s.faults[method][i+1:]...)
		return nil, &apiError{status: f.Status, retryAfter: f.RetryAfter, slackErr: f.SlackError}
	}
	want := s.opts.BotToken
	if method == "apps.connections.open" {
		want = s.opts.AppToken
	}
	switch tok := token(r, p); {
	case tok == "":
		return nil, &apiError{slackErr: "not_authed"}
	case tok != want:
		return nil, &apiError{slackErr: "invalid_auth"}
	case s.revoked:
		return nil, &apiError{slackErr: "token_revoked"}
	}
	switch method {
	case "auth.test":
		return map[string]any{"ok": true, "url": "https://fake.slack.test/", "team": "Fake", "user": "secgpt",
			"team_id": s.opts.TeamID, "user_id": s.opts.BotUserID, "bot_id": s.opts.BotID}, nil
	case "apps.connections.open":
		t := s.nextLocked("ticket")
		s.tickets[t] = true
		return map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/socket?ticket=" + t}, nil
	case "chat.postMessage":
		return s.postLocked(p, false)
	case "chat.postEphemeral":
		if p.Get("user") == "" {
			return nil, &apiError{slackErr: "user_not_in_channel"}
		}
		resp, ae := s.postLocked(p, true)
		if ae != nil {
			return nil, ae
		}
		return map[string]any{"ok": true, "message_ts": resp["ts"]}, nil
	case "chat.update":
		m := s.findLocked(p.Get("channel"), p.Get("ts"))
		if m == nil || m.Deleted {
			return nil, &apiError{slackErr: "message_not_found"}
		}
		if m.Streaming {
			return nil, &apiError{slackErr: "cant_update_message"}
		}
		blocks, ae := checkContent(p)
		if ae != nil {
			return nil, ae
		}
		if p.Has("text") || blocks != nil {
			m.Text = p.Get("text")
		}
		if blocks != nil {
			m.Blocks = blocks
		}
		m.Updates++
		return map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text}, nil
	case "views.publish":
		// A home tab view for one user; the last one published is kept.
		user, view := p.Get("user_id"), p.Get("view")
		if user == "" || view == "" {
			return nil, &apiError{slackErr: "invalid_arguments"}
		}
		var v struct {
			Type   string          `json:"type"`
			Blocks json.RawMessage `json:"blocks"`
		}
		if json.Unmarshal([]byte(view), &v) != nil || v.Type != "home" {
			return nil, &apiError{slackErr: "invalid_arguments"}
		}
		if n := countBlocks(v.Blocks); n > 100 {
			return nil, &apiError{slackErr: "invalid_blocks"}
		}
		s.homes[user] = json.RawMessage(view)
		return map[string]any{"ok": true, "view": map[string]any{"id": "V" + user, "type": "home"}}, nil
	case "assistant.threads.setStatus", "assistant.threads.setTitle", "assistant.threads.setSuggestedPrompts":
		if p.Get("channel_id") == "" || p.Get("thread_ts") == "" {
			return nil, &apiError{slackErr: "invalid_arguments"}
		}
		return map[string]any{"ok": true}, nil
	case "chat.startStream", "chat.appendStream", "chat.stopStream":
		if s.opts.NoStreaming {
			return nil, &apiError{slackErr: "unknown_method"}
		}
		return s.streamLocked(method, p)
	case "chat.delete":
		m := s.findLocked(p.Get("channel"), p.Get("ts"))
		if m == nil || m.Deleted {
			return nil, &apiError{slackErr: "message_not_found"}
		}
		m.Deleted = true
		return map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS}, nil
	}
	return nil, &apiError{slackErr: "unknown_method"}
}

// maxStreamText is the documented limit of markdown_text in one call of
// the streaming methods.
const maxStreamText = 12000

// streamLocked serves Slack's native streaming: chat.startStream posts a
// message (a thread reply; outside a DM it needs the recipient's user and
// team), chat.appendStream adds markdown_text to it, chat.stopStream ends
// it, optionally with blocks shown under the text. A stopped message is an
// ordinary one; an open one cannot be edited with chat.update.
//
// Preconditions: s.mu is held.
func (s *Server) streamLocked(method string, p url.Values) (map[string]any, *apiError) {
	ch, md := p.Get("channel"), p.Get("markdown_text")
	if ch == "" {
		return nil, &apiError{slackErr: "channel_not_found"}
	}
	if len([]rune(md)) > maxStreamText {
		return nil, &apiError{slackErr: "msg_too_long"}
	}
	if method == "chat.startStream" {
		tts := p.Get("thread_ts")
		switch {
		case tts == "" && strings.HasPrefix(ch, "D"):
			return nil, &apiError{slackErr: "invalid_arguments"}
		case tts != "" && s.findLocked(ch, tts) == nil:
			return nil, &apiError{slackErr: "thread_not_found"}
		case !strings.HasPrefix(ch, "D") && (p.Get("recipient_user_id") == "" || p.Get("recipient_team_id") == ""):
			return nil, &apiError{slackErr: "invalid_arguments"}
		}
		m := &Message{User: s.opts.BotUserID, Channel: ch, TS: s.nextTSLocked(), ThreadTS: tts, Text: md, Streamed: true, Streaming: true}
		s.messages = append(s.messages, m)
		return map[string]any{"ok": true, "channel": ch, "ts": m.TS}, nil
	}
	m := s.findLocked(ch, p.Get("ts"))
	if m == nil || m.Deleted {
		return nil, &apiError{slackErr: "message_not_found"}
	}
	if !m.Streaming {
		return nil, &apiError{slackErr: "message_not_in_streaming_state"}
	}
	if method == "chat.appendStream" {
		if md == "" {
			return nil, &apiError{slackErr: "invalid_arguments"}
		}
		m.Text += md
		m.Appends++
		return map[string]any{"ok": true, "channel": ch, "ts": m.TS}, nil
	}
	blocks, ae := checkContent(url.Values{"blocks": {p.Get("blocks")}})
	if ae != nil {
		return nil, ae
	}
	m.Text += md
	m.Blocks = blocks
	m.Streaming = false
	return map[string]any{"ok": true, "channel": ch, "ts": m.TS}, nil
}

// Preconditions: s.mu is held.
func (s *Server) postLocked(p url.Values, ephemeral bool) (map[string]any, *apiError) {
	ch := p.Get("channel")
	if ch == "" {
		return nil, &apiError{slackErr: "channel_not_found"}
	}
	blocks, ae := checkContent(p)
	if ae != nil {
		return nil, ae
	}
	if p.Get("text") == "" && blocks == nil {
		return nil, &apiError{slackErr: "no_text"}
	}
	if tts := p.Get("thread_ts"); tts != "" && s.findLocked(ch, tts) == nil {
		return nil, &apiError{slackErr: "thread_not_found"}
	}
	m := &Message{User: s.opts.BotUserID, Channel: ch, TS: s.nextTSLocked(), ThreadTS: p.Get("thread_ts"), Text: p.Get("text"), Blocks: blocks,
		Ephemeral: ephemeral, EphemeralUser: p.Get("user")}
	s.messages = append(s.messages, m)
	return map[string]any{"ok": true, "channel": ch, "ts": m.TS,
		"message": map[string]any{"type": "message", "user": s.opts.BotUserID, "bot_id": s.opts.BotID, "text": m.Text, "ts": m.TS}}, nil
}

// Slack's documented limits, checked so tests notice an adapter exceeding them.
const (
	maxTextLen     = 40000
	maxBlocks      = 50
	maxSectionText = 3000
	maxHeaderText  = 150
	maxButtonValue = 2000
	maxActionID    = 255
	maxButtonText  = 75
)

// checkContent validates text and blocks; blocks is nil when none were sent.
func checkContent(p url.Values) (json.RawMessage, *apiError) {
	if len([]rune(p.Get("text"))) > maxTextLen {
		return nil, &apiError{slackErr: "msg_too_long"}
	}
	raw := p.Get("blocks")
	if raw == "" {
		return nil, nil
	}
	var blocks []struct {
		Type     string `json:"type"`
		Text     *textObj
		Elements []struct {
			Type     string          `json:"type"`
			ActionID string          `json:"action_id"`
			Value    string          `json:"value"`
			Text     json.RawMessage `json:"text"` // an object for buttons, a string in context blocks
		} `json:"elements"`
	}
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		return nil, &apiError{slackErr: "invalid_blocks_format"}
	}
	if len(blocks) > maxBlocks {
		return nil, &apiError{slackErr: "invalid_blocks"}
	}
	for _, b := range blocks {
		switch b.Type {
		case "section":
			if b.Text == nil || b.Text.Text == "" || utf16Len(b.Text.Text) > maxSectionText || !b.Text.validType() {
				return nil, &apiError{slackErr: "invalid_blocks"}
			}
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" || utf16Len(b.Text.Text) > maxHeaderText {
				return nil, &apiError{slackErr: "invalid_blocks"}
			}
		case "actions":
			if len(b.Elements) == 0 || len(b.Elements) > 25 {
				return nil, &apiError{slackErr: "invalid_blocks"}
			}
			for _, e := range b.Elements {
				var t textObj
				if e.Type == "button" && (json.Unmarshal(e.Text, &t) != nil || t.Type != "plain_text" || utf16Len(t.Text) > maxButtonText ||
					len(e.Value) > maxButtonValue || len(e.ActionID) > maxActionID) {
					return nil, &apiError{slackErr: "invalid_blocks"}
				}
			}
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > 10 {
				return nil, &apiError{slackErr: "invalid_blocks"}
			}
		case "context_actions":
			if len(b.Elements) == 0 || len(b.Elements) > 5 {
				return nil, &apiError{slackErr: "invalid_blocks"}
			}
			for _, e := range b.Elements {
				if e.Type != "feedback_buttons" && e.Type != "icon_button" {
					return nil, &apiError{slackErr: "invalid_blocks"}
				}
			}
		case "divider":
		default:
			// Other block types exist; the fake does not validate them.
		}
	}
	return json.RawMessage(raw), nil
}

type textObj struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func (t *textObj) validType() bool { return t.Type == "mrkdwn" || t.Type == "plain_text" }

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// serveResponseURL accepts the JSON a client posts to a response_url.
func (s *Server) serveResponseURL(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	params, isJSON, err := readParams(r)
	call := Call{Method: "response_url", Params: params, JSON: isJSON, At: time.Now(), Status: http.StatusOK}
	s.mu.Lock()
	defer func() {
		s.calls = append(s.calls, call)
		s.notifyLocked()
		s.mu.Unlock()
	}()
	m := s.responseURLs[id]
	if err != nil || !isJSON || m == nil {
		call.Status = http.StatusNotFound
		http.Error(w, "no_such_response_url", http.StatusNotFound)
		return
	}
	switch {
	case params.Get("delete_original") == "true":
		m.Deleted = true
	case params.Get("replace_original") == "true":
		blocks, ae := checkContent(params)
		if ae != nil {
			call.Status, call.Error = http.StatusBadRequest, ae.slackErr
			http.Error(w, ae.slackErr, http.StatusBadRequest)
			return
		}
		m.Text, m.Blocks = params.Get("text"), blocks
		m.Updates++
	default:
		s.messages = append(s.messages, &Message{User: s.opts.BotUserID, Channel: m.Channel, TS: s.nextTSLocked(), Text: params.Get("text"),
			Ephemeral: params.Get("response_type") != "in_channel"})
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
}

// ---- Socket Mode ----

func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	t := r.URL.Query().Get("ticket")
	s.mu.Lock()
	ok := s.tickets[t] && !s.closed
	delete(s.tickets, t) // a ticket is good for one connection
	s.mu.Unlock()
	if !ok {
		http.Error(w, "invalid ticket", http.StatusUnauthorized)
		return
	}
	c, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	wc := &wsConn{c: c, done: make(chan struct{})}
	s.mu.Lock()
	s.conns++
	old := s.conn
	s.conn = wc
	s.mu.Unlock()
	if old != nil {
		_ = old.c.Close()
	}
	hello := map[string]any{"type": "hello", "num_connections": 1,
		"debug_info":      map[string]any{"host": "slackfake", "build_number": 1, "approximate_connection_time": 3600},
		"connection_info": map[string]any{"app_id": DefaultAppID}}
	if err := wc.writeJSON(hello); err != nil {
		_ = c.Close()
		return
	}
	s.mu.Lock()
	s.notifyLocked()
	s.mu.Unlock()
	go s.pingLoop(wc)
	s.readLoop(wc)
}

func (c *wsConn) writeJSON(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.c.WriteJSON(v)
}

func (s *Server) pingLoop(wc *wsConn) {
	t := time.NewTicker(s.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-wc.done:
			return
		case <-t.C:
			if wc.c.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(5*time.Second)) != nil {
				return
			}
		}
	}
}

func (s *Server) readLoop(wc *wsConn) {
	defer func() {
		close(wc.done)
		_ = wc.c.Close()
		s.mu.Lock()
		if s.conn == wc {
			s.conn = nil
		}
		s.notifyLocked()
		s.mu.Unlock()
	}()
	for {
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := wc.c.ReadJSON(&ack); err != nil {
			return
		}
		if ack.EnvelopeID == "" {
			continue
		}
		s.mu.Lock()
		s.acks[ack.EnvelopeID] = ack.Payload
		s.ackCount[ack.EnvelopeID]++
		s.notifyLocked()
		s.mu.Unlock()
	}
}

// ErrNotConnected is returned by Send when no client is connected.
var ErrNotConnected = errors.New("slackfake: no socket mode client connected")

// Send writes env as a Socket Mode envelope to the connected client.
func (s *Server) Send(env Envelope) error {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c == nil {
		return ErrNotConnected
	}
	msg := map[string]any{"type": env.Type, "envelope_id": env.ID}
	if env.Type == "disconnect" {
		msg = map[string]any{"type": "disconnect", "reason": "refresh_requested",
			"debug_info": map[string]any{"host": "slackfake"}}
	} else {
		msg["payload"] = env.Payload
		msg["accepts_response_payload"] = env.Type != "events_api"
		msg["retry_attempt"] = env.RetryAttempt
		msg["retry_reason"] = env.RetryReason
	}
	if err := c.writeJSON(msg); err != nil {
		return fmt.Errorf("slackfake: send %s envelope: %w", env.Type, err)
	}
	return nil
}

// SendDisconnect asks the client to reconnect, as Slack does before it
// rotates a connection.
func (s *Server) SendDisconnect() error { return s.Send(Envelope{Type: "disconnect"}) }

// DropConnection closes the current websocket abruptly (a network failure).
func (s *Server) DropConnection() {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c != nil {
		_ = c.c.Close()
	}
}

// Event is an Events API inner event. Zero fields are left out of the JSON.
type Event struct {
	Type        string // "message" or "app_mention"
	Subtype     string
	User        string
	BotID       string
	Text        string
	TS          string // generated when empty
	ThreadTS    string
	Channel     string
	ChannelType string // "im", "channel", …
	Team        string // the sender's team; defaults to the workspace
	// Edited marks an edited message (app_mention events carry it).
	Edited bool
	// Extra fields merged into the event (e.g. "message" for message_changed).
	Extra map[string]any
}

// NewEventEnvelope builds an events_api envelope for ev with fresh envelope
// and event ids. The event's ts is filled in if empty and returned in the
// envelope payload.
func (s *Server) NewEventEnvelope(ev Event) (env Envelope, eventID, ts string) {
	s.mu.Lock()
	envID := s.nextLocked("env-")
	eventID = s.nextLocked("Ev")
	if ev.TS == "" {
		ev.TS = s.nextTSLocked()
		// Record the user's message so replies can thread under it.
		s.messages = append(s.messages, &Message{User: ev.User, Channel: ev.Channel, TS: ev.TS, ThreadTS: ev.ThreadTS, Text: ev.Text})
		s.notifyLocked()
	}
	s.mu.Unlock()
	if ev.Team == "" {
		ev.Team = s.opts.TeamID
	}
	inner := map[string]any{"type": ev.Type, "ts": ev.TS, "event_ts": ev.TS}
	set := func(k, v string) {
		if v != "" {
			inner[k] = v
		}
	}
	set("subtype", ev.Subtype)
	set("user", ev.User)
	set("bot_id", ev.BotID)
	set("text", ev.Text)
	set("thread_ts", ev.ThreadTS)
	set("channel", ev.Channel)
	set("channel_type", ev.ChannelType)
	set("team", ev.Team)
	if ev.Edited {
		inner["edited"] = map[string]any{"user": ev.User, "ts": ev.TS}
	}
	for k, v := range ev.Extra {
		inner[k] = v
	}
	payload := map[string]any{
		"token": "verification-token", "team_id": s.opts.TeamID, "api_app_id": DefaultAppID,
		"event": inner, "type": "event_callback", "event_id": eventID, "event_time": time.Now().Unix(),
		"authorizations": []map[string]any{{"team_id": s.opts.TeamID, "user_id": s.opts.BotUserID, "is_bot": true}},
	}
	raw, _ := json.Marshal(payload)
	return Envelope{ID: envID, Type: "events_api", Payload: raw}, eventID, ev.TS
}

// SendEvent sends ev in a fresh envelope and returns the envelope.
func (s *Server) SendEvent(ev Event) (Envelope, error) {
	env, _, _ := s.NewEventEnvelope(ev)
	return env, s.Send(env)
}

// Click describes a button press on a message.
type Click struct {
	User      string
	Team      string // defaults to the workspace
	Channel   string
	MessageTS string
	Button    Button
}

// NewClickEnvelope builds an interactive block_actions envelope for c, with a
// response_url served by this fake.
func (s *Server) NewClickEnvelope(c Click) Envelope {
	if c.Team == "" {
		c.Team = s.opts.TeamID
	}
	s.mu.Lock()
	envID := s.nextLocked("env-")
	rid := s.nextLocked("r")
	msg := s.findLocked(c.Channel, c.MessageTS)
	var original any = map[string]any{"ts": c.MessageTS}
	if msg != nil {
		s.responseURLs[rid] = msg
		original = map[string]any{"type": "message", "ts": msg.TS, "text": msg.Text, "blocks": msg.Blocks,
			"user": s.opts.BotUserID, "bot_id": s.opts.BotID}
	}
	actionTS := s.nextTSLocked()
	s.mu.Unlock()
	typ := c.Button.Type
	if typ == "" {
		typ = "button"
	}
	payload := map[string]any{
		"type":       "block_actions",
		"user":       map[string]any{"id": c.User, "username": strings.ToLower(c.User), "team_id": c.Team},
		"api_app_id": DefaultAppID, "token": "verification-token", "trigger_id": "trigger-" + envID,
		"team":         map[string]any{"id": c.Team, "domain": "fake"},
		"channel":      map[string]any{"id": c.Channel, "name": "channel"},
		"container":    map[string]any{"type": "message", "message_ts": c.MessageTS, "channel_id": c.Channel, "is_ephemeral": false},
		"message":      original,
		"response_url": s.srv.URL + "/response/" + rid,
		"actions": []map[string]any{{"type": typ, "action_id": c.Button.ActionID, "block_id": c.Button.BlockID,
			"value": c.Button.Value, "text": map[string]any{"type": "plain_text", "text": c.Button.Text}, "action_ts": actionTS}},
	}
	raw, _ := json.Marshal(payload)
	return Envelope{ID: envID, Type: "interactive", Payload: raw}
}

// SendClick sends a click in a fresh envelope and returns the envelope.
func (s *Server) SendClick(c Click) (Envelope, error) {
	env := s.NewClickEnvelope(c)
	return env, s.Send(env)
}

func countBlocks(raw json.RawMessage) int {
	var b []json.RawMessage
	_ = json.Unmarshal(raw, &b)
	return len(b)
}

// Home returns the last home tab view published for user.
func (s *Server) Home(user string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.homes[user]
	return v, ok
}

// WaitHome waits until a home tab view for user satisfies pred.
func (s *Server) WaitHome(ctx context.Context, user string, pred func(view string) bool) (string, error) {
	var got string
	err := s.wait(ctx, "home tab of "+user, func() bool {
		v, ok := s.homes[user]
		got = string(v)
		return ok && pred(got)
	})
	return got, err
}

// SlashCommand is a slash command invocation.
type SlashCommand struct {
	Command, Text, User, Channel string
	Team                         string // defaults to the workspace
}

// SendSlashCommand sends a slash_commands envelope and returns it.
func (s *Server) SendSlashCommand(c SlashCommand) (Envelope, error) {
	if c.Team == "" {
		c.Team = s.opts.TeamID
	}
	s.mu.Lock()
	envID := s.nextLocked("env-")
	s.mu.Unlock()
	raw, _ := json.Marshal(map[string]any{
		"token": "verification-token", "team_id": c.Team, "team_domain": "fake", "channel_id": c.Channel, "channel_name": "channel",
		"user_id": c.User, "user_name": strings.ToLower(c.User), "command": c.Command, "text": c.Text,
		"response_url": s.srv.URL + "/response/none", "trigger_id": "trigger-" + envID, "api_app_id": DefaultAppID,
	})
	env := Envelope{ID: envID, Type: "slash_commands", Payload: raw}
	return env, s.Send(env)
}

// HomeAction is a button press on a user's home tab.
type HomeAction struct {
	User, ActionID, Value string
	Team                  string // defaults to the workspace
}

// SendHomeAction sends a block_actions envelope from the home tab.
func (s *Server) SendHomeAction(a HomeAction) (Envelope, error) {
	if a.Team == "" {
		a.Team = s.opts.TeamID
	}
	s.mu.Lock()
	envID := s.nextLocked("env-")
	actionTS := s.nextTSLocked()
	s.mu.Unlock()
	raw, _ := json.Marshal(map[string]any{
		"type": "block_actions", "api_app_id": DefaultAppID, "token": "verification-token", "trigger_id": "trigger-" + envID,
		"user":      map[string]any{"id": a.User, "username": strings.ToLower(a.User), "team_id": a.Team},
		"team":      map[string]any{"id": a.Team, "domain": "fake"},
		"container": map[string]any{"type": "view", "view_id": "V" + a.User},
		"view":      map[string]any{"id": "V" + a.User, "type": "home"},
		"actions": []map[string]any{{"type": "button", "action_id": a.ActionID, "block_id": "b", "value": a.Value,
			"text": map[string]any{"type": "plain_text", "text": "Revoke"}, "action_ts": actionTS}},
	})
	env := Envelope{ID: envID, Type: "interactive", Payload: raw}
	return env, s.Send(env)
}
