package provider

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/llm"
)

// answer is one scripted HTTP answer; drop closes the connection instead.
type answer struct {
	status     int
	retryAfter string
	body       string
	drop       bool
}

// seqServer answers requests with a script, one answer each, and repeats
// the last one when the script runs out. It records every request body.
type seqServer struct {
	*httptest.Server
	mu     sync.Mutex
	script []answer
	bodies []string
	times  []time.Time
}

func newSeqServer(t *testing.T, script ...answer) *seqServer {
	t.Helper()
	s := &seqServer{script: script}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, string(b))
		s.times = append(s.times, time.Now())
		a := s.script[0]
		if len(s.script) > 1 {
			s.script = s.script[1:]
		}
		s.mu.Unlock()
		if a.drop {
			hj, ok := w.(http.Hijacker)
			if !ok {
				panic("no hijacker")
			}
			c, _, err := hj.Hijack()
			if err == nil {
				c.Close()
			}
			return
		}
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *seqServer) requests() ([]string, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...), append([]time.Time(nil), s.times...)
}

type retryRecord struct {
	mu       sync.Mutex
	statuses []int
	waits    []time.Duration
}

func (r *retryRecord) add(status int, wait time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, status)
	r.waits = append(r.waits, wait)
}

const (
	oaRateLimited  = `{"error":{"message":"rate limited"}}`
	oaUnavailable  = `{"error":{"message":"overloaded"}}`
	anRateLimited  = `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`
	anOverloaded   = `{"type":"error","error":{"type":"overloaded_error","message":"overloaded"}}`
	gemRateLimited = `{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}`
	gemUnavailable = `{"error":{"code":503,"message":"The model is overloaded","status":"UNAVAILABLE"}}`
	anHello        = `{"id":"msg_1","type":"message","role":"assistant","model":"claude-test","content":[{"type":"text","text":"hello"}],"stop_reason":"end_turn"}`
)

// TestRetryThroughRealClients drives the real langchaingo clients against a
// server that answers 429 and 503 (or drops the connection) first, and
// checks that the call succeeds, how often it was sent, that the body was
// the same each time, and that Retry-After was honoured.
func TestRetryThroughRealClients(t *testing.T) {
	msgs := []llm.Message{{Role: llm.RoleUser, Content: "hi"}}
	tests := []struct {
		name      string
		provider  string
		script    []answer
		retries   int
		timeout   time.Duration
		wantText  string
		wantErr   string
		wantSent  int
		wantCodes []int
		// minGap: the wait between the first and second request must be
		// at least this (Retry-After honoured).
		minGap time.Duration
	}{
		{
			name:     "openai 429 with Retry-After then 503 then ok",
			provider: OpenAI,
			script: []answer{
				{status: 429, retryAfter: "1", body: oaRateLimited},
				{status: 503, body: oaUnavailable},
				{status: 200, body: oaText("hello")},
			},
			wantText: "hello", wantSent: 3, wantCodes: []int{429, 503}, minGap: time.Second,
		},
		{
			name:     "anthropic 429 then 529 then ok",
			provider: Anthropic,
			script: []answer{
				{status: 429, retryAfter: "0", body: anRateLimited},
				{status: 529, body: anOverloaded},
				{status: 200, body: anHello},
			},
			wantText: "hello", wantSent: 3, wantCodes: []int{429, 529},
		},
		{
			name:     "gemini 429 with Retry-After then 503 then ok",
			provider: Gemini,
			script: []answer{
				{status: 429, retryAfter: "1", body: gemRateLimited},
				{status: 503, body: gemUnavailable},
				{status: 200, body: gemReply(gemText("hello"))},
			},
			wantText: "hello", wantSent: 3, wantCodes: []int{429, 503}, minGap: time.Second,
		},
		{
			// The Google client has its own 503 loop; it must not start
			// again once ours has given up.
			name:     "gemini retries exhausted: sent 1+retries times, no more",
			provider: Gemini,
			retries:  2,
			script:   []answer{{status: 503, retryAfter: "0", body: gemUnavailable}},
			wantErr:  "503", wantSent: 3, wantCodes: []int{503, 503},
		},
		{
			name:     "connection dropped then ok",
			provider: OpenAI,
			script:   []answer{{drop: true}, {status: 200, body: oaText("hello")}},
			wantText: "hello", wantSent: 2, wantCodes: []int{0},
		},
		{
			name:     "retries exhausted returns the last error",
			provider: OpenAI,
			retries:  2,
			script:   []answer{{status: 503, retryAfter: "0", body: oaUnavailable}},
			wantErr:  "503", wantSent: 3, wantCodes: []int{503, 503},
		},
		{
			name:     "retries off sends once",
			provider: OpenAI,
			retries:  -1,
			script:   []answer{{status: 429, retryAfter: "0", body: oaRateLimited}, {status: 200, body: oaText("hello")}},
			wantErr:  "429", wantSent: 1,
		},
		{
			name:     "client error is not retried",
			provider: OpenAI,
			script:   []answer{{status: 400, body: `{"error":{"message":"bad request"}}`}, {status: 200, body: oaText("hello")}},
			wantErr:  "400", wantSent: 1,
		},
		{
			name:     "501 is not retried",
			provider: Anthropic,
			script:   []answer{{status: 501, body: anOverloaded}, {status: 200, body: anHello}},
			wantErr:  "501", wantSent: 1,
		},
		{
			// The server asks for a minute; the call has two seconds. The
			// error comes back at once rather than a timeout after 2s.
			name:     "Retry-After beyond the call's timeout is not waited for",
			provider: OpenAI,
			timeout:  2 * time.Second,
			script:   []answer{{status: 429, retryAfter: "60", body: oaRateLimited}, {status: 200, body: oaText("hello")}},
			wantErr:  "429", wantSent: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSeqServer(t, tt.script...)
			var rec retryRecord
			m, err := New(context.Background(), Config{
				Provider: tt.provider, Model: "test-model", BaseURL: s.URL + "/v1", APIKey: "k",
				Retries: tt.retries, Timeout: tt.timeout, OnRetry: rec.add,
			})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			resp, err := m.Generate(context.Background(), &llm.Request{Messages: msgs})
			elapsed := time.Since(start)
			bodies, times := s.requests()
			if len(bodies) != tt.wantSent {
				t.Errorf("server saw %d requests, want %d", len(bodies), tt.wantSent)
			}
			for i := 1; i < len(bodies); i++ {
				if bodies[i] != bodies[0] {
					t.Errorf("request %d body differs from the first:\n%s\n%s", i, bodies[i], bodies[0])
				}
			}
			rec.mu.Lock()
			codes := rec.statuses
			rec.mu.Unlock()
			if !equalInts(codes, tt.wantCodes) {
				t.Errorf("retried after statuses %v, want %v", codes, tt.wantCodes)
			}
			if tt.minGap > 0 && len(times) > 1 && times[1].Sub(times[0]) < tt.minGap {
				t.Errorf("second request %v after the first, want at least %v (Retry-After)", times[1].Sub(times[0]), tt.minGap)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Generate = %+v, %v; want an error containing %q", resp, err, tt.wantErr)
				}
				if tt.timeout > 0 && elapsed >= tt.timeout {
					t.Errorf("gave up after %v, want before the %v timeout", elapsed, tt.timeout)
				}
				return
			}
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if resp.Content != tt.wantText {
				t.Errorf("Content = %q, want %q", resp.Content, tt.wantText)
			}
		})
	}
}

// TestRetryStopsAtTimeout: a server that keeps failing cannot hold a call
// past its timeout, however many retries are allowed.
func TestRetryStopsAtTimeout(t *testing.T) {
	s := newSeqServer(t, answer{status: 503, retryAfter: "0", body: oaUnavailable})
	m, err := New(context.Background(), Config{Provider: OpenAI, Model: "m", BaseURL: s.URL + "/v1", APIKey: "k", Retries: 1000, Timeout: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = m.Generate(context.Background(), &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}})
	if err == nil {
		t.Fatal("Generate succeeded against a server that only answers 503")
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Generate took %v, want it bounded by the 1.5s timeout", el)
	}
	if bodies, _ := s.requests(); len(bodies) < 2 {
		t.Errorf("server saw %d requests, want retries within the timeout", len(bodies))
	}
}

// TestRetryCancel: cancelling the caller's context ends a backoff wait.
func TestRetryCancel(t *testing.T) {
	s := newSeqServer(t, answer{status: 429, retryAfter: "30", body: oaRateLimited})
	m, err := New(context.Background(), Config{Provider: OpenAI, Model: "m", BaseURL: s.URL + "/v1", APIKey: "k", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err = m.Generate(ctx, &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Generate error = %v, want context.Canceled in the chain", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("cancel took %v to end the wait", el)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 12 ", 12 * time.Second, true},
		{"-3", 0, false},
		{"99999999999", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	for attempt := 0; attempt < 40; attempt++ {
		want := retryBaseDelay << min(attempt, 10)
		if want > retryMaxDelay || want <= 0 {
			want = retryMaxDelay
		}
		for range 20 {
			d := backoff(attempt)
			if d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
