package provider

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/secgpt-go/secgpt/core/llm"
)

// streamPieces are the pieces every streaming server below sends, in the
// wire format of its API; joined they are streamText.
var streamPieces = []string{"The fare ", "is ", "$57.00", " (quick_ride)."}

var streamText = strings.Join(streamPieces, "")

// oaStream is an OpenAI chat completions stream (server-sent events): a
// role event, one content delta per piece, a finish event with an empty
// delta, a usage-only event without choices, and [DONE].
func oaStream(pieces ...string) string {
	var b strings.Builder
	ev := func(v any) {
		j, _ := json.Marshal(v)
		fmt.Fprintf(&b, "data: %s\n\n", j)
	}
	choice := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": "c1", "object": "chat.completion.chunk", "model": "test-model",
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	ev(choice(map[string]any{"role": "assistant", "content": ""}, nil))
	b.WriteString(": keep-alive comment\n\n")
	for _, p := range pieces {
		ev(choice(map[string]any{"content": p}, nil))
	}
	ev(choice(map[string]any{}, "stop"))
	ev(map[string]any{"id": "c1", "object": "chat.completion.chunk", "choices": []any{}, "usage": map[string]any{"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}})
	b.WriteString("data: [DONE]\n\n")
	return b.String()
}

// anStream is an Anthropic Messages stream: message_start, one text block
// whose deltas are the pieces, a ping, and the stop events.
func anStream(pieces ...string) string {
	var b strings.Builder
	ev := func(typ string, v map[string]any) {
		v["type"] = typ
		j, _ := json.Marshal(v)
		fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", typ, j)
	}
	ev("message_start", map[string]any{"message": map[string]any{"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
		"content": []any{}, "usage": map[string]any{"input_tokens": 3, "output_tokens": 1}}})
	ev("content_block_start", map[string]any{"index": 0, "content_block": map[string]any{"type": "text", "text": ""}})
	ev("ping", map[string]any{})
	for _, p := range pieces {
		ev("content_block_delta", map[string]any{"index": 0, "delta": map[string]any{"type": "text_delta", "text": p}})
	}
	ev("content_block_stop", map[string]any{"index": 0})
	ev("message_delta", map[string]any{"delta": map[string]any{"stop_reason": "end_turn"}, "usage": map[string]any{"output_tokens": 4}})
	ev("message_stop", map[string]any{})
	return b.String()
}

// gemStream is a streamGenerateContent answer: a JSON array with one
// response per piece.
func gemStream(pieces ...string) string {
	var rs []string
	for _, p := range pieces {
		rs = append(rs, gemReply(gemText(p)))
	}
	return "[" + strings.Join(rs, ",\r\n") + "]"
}

// bedrockStream is an InvokeModelWithResponseStream answer: AWS event
// stream messages, each a "chunk" event whose bytes are one Anthropic
// stream event.
func bedrockStream(t *testing.T, pieces ...string) string {
	t.Helper()
	var b bytes.Buffer
	enc := eventstream.NewEncoder()
	chunk := func(v map[string]any) {
		inner, _ := json.Marshal(v)
		payload, _ := json.Marshal(map[string]string{"bytes": base64.StdEncoding.EncodeToString(inner)})
		var h eventstream.Headers
		h.Set(":message-type", eventstream.StringValue("event"))
		h.Set(":event-type", eventstream.StringValue("chunk"))
		h.Set(":content-type", eventstream.StringValue("application/json"))
		if err := enc.Encode(&b, eventstream.Message{Headers: h, Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	chunk(map[string]any{"type": "message_start", "message": map[string]any{"id": "msg_1", "role": "assistant", "usage": map[string]any{"input_tokens": 3}}})
	chunk(map[string]any{"type": "content_block_start", "index": 0, "content_block": map[string]any{"type": "text", "text": ""}})
	for _, p := range pieces {
		chunk(map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "text_delta", "text": p}})
	}
	chunk(map[string]any{"type": "content_block_stop", "index": 0})
	chunk(map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": "end_turn"}, "usage": map[string]any{"output_tokens": 4}})
	chunk(map[string]any{"type": "message_stop"})
	return b.String()
}

// streamCase is one provider's streaming wire: where the stream is asked
// for and what a successful stream looks like.
type streamCase struct {
	provider string
	model    string
	// base is the configured base URL for the server's URL.
	base func(url string) string
	// path is the streaming method's path.
	path string
	body string
	// streamed reports whether the request body asked for a stream.
	streamed func(body string) bool
	// fail is a retryable failure of this API (429 or 503 with its body).
	fail answer
	env  func(t *testing.T)
}

func streamCases(t *testing.T) []streamCase {
	sseStream := func(body string) bool { return strings.Contains(body, `"stream":true`) }
	openaiLike := func(provider, model, path string, base func(string) string) streamCase {
		return streamCase{provider: provider, model: model, base: base, path: path, body: oaStream(streamPieces...), streamed: sseStream,
			fail: answer{status: http.StatusTooManyRequests, retryAfter: "0", body: oaRateLimited}}
	}
	return []streamCase{
		openaiLike(OpenAI, "test-model", "/v1/chat/completions", func(u string) string { return u + "/v1" }),
		openaiLike(Ollama, "llama3", "/v1/chat/completions", func(u string) string { return u + "/v1" }),
		openaiLike(Azure, "my-gpt4o", "/openai/deployments/my-gpt4o/chat/completions", func(u string) string { return u }),
		{provider: Anthropic, model: "claude-test", base: func(u string) string { return u + "/v1" }, path: "/v1/messages",
			body: anStream(streamPieces...), streamed: sseStream, fail: answer{status: 529, body: anOverloaded}},
		{provider: Gemini, model: "gemini-test", base: func(u string) string { return u }, path: geminiStreamPath,
			body: gemStream(streamPieces...), streamed: func(string) bool { return true },
			fail: answer{status: http.StatusServiceUnavailable, body: gemUnavailable}},
		{provider: Bedrock, model: bedrockModelID, base: func(u string) string { return u }, path: "/model/" + bedrockModelID + "/invoke-with-response-stream",
			body: bedrockStream(t, streamPieces...), streamed: func(string) bool { return true },
			fail: answer{status: http.StatusTooManyRequests, body: `{"message":"Too many requests"}`}, env: bedrockEnv},
	}
}

// pathServer is a seqServer that also records the paths asked for.
type pathServer struct {
	*seqServer
	mu    sync.Mutex
	paths []string
}

func newStreamServer(t *testing.T, script ...answer) *pathServer {
	t.Helper()
	s := &pathServer{seqServer: newSeqServer(t, script...)}
	next := s.Config.Handler
	s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths = append(s.paths, r.URL.Path)
		s.mu.Unlock()
		next.ServeHTTP(w, r)
	})
	return s
}

func newStreamModel(t *testing.T, tc streamCase, url string, retries int) llm.StreamingModel {
	t.Helper()
	if tc.env != nil {
		tc.env(t)
	}
	m, err := New(context.Background(), Config{Provider: tc.provider, Model: tc.model, BaseURL: tc.base(url), APIKey: "test-key",
		Region: "eu-west-1", Retries: retries, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sm, ok := m.(llm.StreamingModel)
	if !ok {
		t.Fatalf("%s model %T does not stream", tc.provider, m)
	}
	return sm
}

// collect returns an onText that records the pieces.
func collect() (*[]string, func(context.Context, string) error) {
	var mu sync.Mutex
	var got []string
	return &got, func(_ context.Context, p string) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, p)
		return nil
	}
}

var textOnly = &llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: "be brief"}, {Role: llm.RoleUser, Content: "fare?"}}}

// TestStreamThroughRealClients drives each provider's langchaingo client
// against a local server speaking that API's streaming format, first
// answering with a retryable failure: the call asks for a stream on the
// streaming method, hands over exactly the server's pieces once (the
// failed attempt shows nothing, the retry repeats nothing), and returns
// the whole text.
func TestStreamThroughRealClients(t *testing.T) {
	for _, tc := range streamCases(t) {
		t.Run(tc.provider, func(t *testing.T) {
			s := newStreamServer(t, tc.fail, answer{status: http.StatusOK, body: tc.body})
			m := newStreamModel(t, tc, s.URL, 2)
			got, onText := collect()
			resp, err := m.GenerateStream(context.Background(), textOnly, onText)
			if err != nil {
				t.Fatalf("GenerateStream: %v", err)
			}
			if resp.Content != streamText || len(resp.ToolCalls) != 0 {
				t.Errorf("Content = %q, calls %v; want %q", resp.Content, resp.ToolCalls, streamText)
			}
			if strings.Join(*got, "|") != strings.Join(streamPieces, "|") {
				t.Errorf("pieces = %q, want %q", *got, streamPieces)
			}
			bodies, _ := s.requests()
			s.mu.Lock()
			paths := append([]string(nil), s.paths...)
			s.mu.Unlock()
			if len(bodies) != 2 || bodies[0] != bodies[1] {
				t.Fatalf("sent %d requests (want the failure and one retry, same body)", len(bodies))
			}
			if paths[1] != tc.path || !tc.streamed(bodies[1]) {
				t.Errorf("request to %s, body %s; want a streaming request to %s", paths[1], bodies[1], tc.path)
			}
		})
	}
}

// TestStreamReaderStops: when the reader of the stream gives up (onText
// fails: the chat went away), the call fails with that error rather than
// returning a partial answer as if it were whole.
func TestStreamReaderStops(t *testing.T) {
	errGone := errors.New("conversation gone")
	for _, tc := range streamCases(t) {
		t.Run(tc.provider, func(t *testing.T) {
			s := newStreamServer(t, answer{status: http.StatusOK, body: tc.body})
			m := newStreamModel(t, tc, s.URL, -1)
			n := 0
			resp, err := m.GenerateStream(context.Background(), textOnly, func(context.Context, string) error {
				n++
				return errGone
			})
			if !errors.Is(err, errGone) {
				t.Fatalf("GenerateStream = %+v, %v; want the reader's error", resp, err)
			}
			if n != 1 {
				t.Errorf("onText called %d times after it failed once", n)
			}
		})
	}
}

// TestStreamWithToolsIsNotStreamed: a request that offers tools goes out
// unstreamed (tool-call arguments must never reach onText), and its text,
// if any, comes as one piece.
func TestStreamWithToolsIsNotStreamed(t *testing.T) {
	s, m := newOpenAITest(t)
	s.script(http.StatusOK, oaCalls([3]string{"call_1", "get_weather", `{"city":"Oslo"}`}))
	got, onText := collect()
	resp, err := m.(llm.StreamingModel).GenerateStream(context.Background(),
		&llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "weather?"}}, Tools: []llm.Tool{weatherTool}}, onText)
	if err != nil {
		t.Fatal(err)
	}
	if len(*got) != 0 || len(resp.ToolCalls) != 1 {
		t.Errorf("pieces %q, calls %v; want no piece and the call", *got, resp.ToolCalls)
	}
	var wire map[string]any
	s.last(t, &wire)
	if wire["stream"] == true {
		t.Errorf("a request with tools was streamed: %v", wire)
	}

	s.script(http.StatusOK, oaText("checking the weather"))
	resp, err = m.(llm.StreamingModel).GenerateStream(context.Background(),
		&llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "weather?"}}, Tools: []llm.Tool{weatherTool}}, onText)
	if err != nil || resp.Content != "checking the weather" || len(*got) != 1 || (*got)[0] != resp.Content {
		t.Errorf("text answer with tools: %+v, %v; pieces %q", resp, err, *got)
	}
}

// TestStreamBrokenMidway: a stream that breaks off after some pieces fails
// the call (the caller voids the pieces); it is not retried, since the
// pieces were already handed over.
func TestStreamBrokenMidway(t *testing.T) {
	full := oaStream(streamPieces...)
	cut := full[:strings.Index(full, `"$57.00"`)]
	s := newStreamServer(t, answer{status: http.StatusOK, body: cut})
	tc := streamCases(t)[0]
	m := newStreamModel(t, tc, s.URL, 2)
	got, onText := collect()
	resp, err := m.GenerateStream(context.Background(), textOnly, onText)
	bodies, _ := s.requests()
	if len(bodies) != 1 {
		t.Errorf("sent %d requests, want 1", len(bodies))
	}
	// langchaingo's OpenAI client skips an event it cannot parse and ends
	// at the end of the body: the answer is what arrived, and matches the
	// pieces. Either way the caller never shows more than was sent.
	if err == nil && resp.Content != strings.Join(*got, "") {
		t.Errorf("Content %q differs from the pieces %q", resp.Content, *got)
	}
	if strings.Contains(strings.Join(*got, ""), "$57.00") {
		t.Errorf("pieces %q include text the server never sent", *got)
	}
}

// FuzzStreamWire feeds arbitrary streamed answers through the real OpenAI
// and Anthropic clients' streaming decoders: GenerateStream returns an
// error or a response, never panics, and hands over no piece after it
// returned.
func FuzzStreamWire(f *testing.F) {
	f.Add(false, oaStream(streamPieces...))
	f.Add(true, anStream(streamPieces...))
	f.Add(false, "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\"{\"}}]}}]}\n\n")
	f.Add(true, "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n")
	f.Add(true, "data: {\"type\":\"error\"}\n\ndata: {\"type\":\"message_stop\"}\n\n")
	f.Fuzz(func(t *testing.T, anthropic bool, body string) {
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"text/event-stream"}},
				Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
		})}
		provider := OpenAI
		if anthropic {
			provider = Anthropic
		}
		m, err := New(context.Background(), Config{Provider: provider, Model: "m", APIKey: "k", BaseURL: "http://127.0.0.1:1/v1", HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		returned := false
		_, _ = m.(llm.StreamingModel).GenerateStream(context.Background(), textOnly, func(context.Context, string) error {
			mu.Lock()
			defer mu.Unlock()
			if returned {
				t.Error("a piece arrived after GenerateStream returned")
			}
			return nil
		})
		mu.Lock()
		returned = true
		mu.Unlock()
	})
}
