package provider

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/plan"
)

// The Gemini tests drive langchaingo's llms/googleai (and under it Google's
// generative-ai-go SDK and its generated REST client) against a local
// server that speaks the generativelanguage v1beta REST format:
// POST /v1beta/models/{model}:generateContent, camelCase protobuf JSON,
// enums as numbers (the client asks for $alt=json;enum-encoding=int).

// The two methods the client uses: generateContent for a request of one
// user message, streamGenerateContent (a JSON array of responses, merged by
// the client) for anything longer, which includes every planner call.
const (
	geminiPath       = "/v1beta/models/gemini-test:generateContent"
	geminiStreamPath = "/v1beta/models/gemini-test:streamGenerateContent"
)

// gemServer answers both methods with a scripted reply. On the streaming
// method a 200 reply is sent as a JSON array: split into one response per
// part when split is set, so the client's merging is exercised.
type gemServer struct {
	*httptest.Server
	mu     sync.Mutex // guards all following fields
	reqs   []*http.Request
	bodies [][]byte
	status int
	reply  string
	split  []string // if non-nil, the stream's responses
	block  chan struct{}
}

func newGemServer(t *testing.T) *gemServer {
	t.Helper()
	s := &gemServer{status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, r)
		s.bodies = append(s.bodies, body)
		status, reply, split, block := s.status, s.reply, s.split, s.block
		s.block = nil
		s.mu.Unlock()
		stream := r.URL.Path == geminiStreamPath
		if r.Method != http.MethodPost || (r.URL.Path != geminiPath && !stream) || r.URL.Query().Get("$alt") != "json;enum-encoding=int" {
			http.Error(w, `{"error":{"code":404,"message":"no such route","status":"NOT_FOUND"}}`, http.StatusNotFound)
			return
		}
		if block != nil {
			close(block)
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		switch {
		case !stream || status != http.StatusOK:
			io.WriteString(w, reply)
		case split != nil:
			io.WriteString(w, "[\n"+strings.Join(split, ",\r\n")+"\n]")
		default:
			io.WriteString(w, "["+reply+"]")
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *gemServer) script(status int, reply string, split ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.reply, s.split = status, reply, split
}

// last returns the last request and its body decoded.
func (s *gemServer) last(t *testing.T) (*http.Request, *gemRequest) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		t.Fatal("server received no request")
	}
	var v gemRequest
	if err := json.Unmarshal(s.bodies[len(s.bodies)-1], &v); err != nil {
		t.Fatalf("request body is not JSON: %v\n%s", err, s.bodies[len(s.bodies)-1])
	}
	return s.reqs[len(s.reqs)-1], &v
}

func (s *gemServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// Protobuf enum numbers of generativelanguage v1beta that the tests read
// or write.
const (
	gemTypeString = 1 // Type.STRING
	gemTypeObject = 6 // Type.OBJECT
	gemFinishStop = 1 // Candidate.FinishReason.STOP
)

// gemRequest is the part of a GenerateContentRequest the tests look at.
type gemRequest struct {
	Model             string       `json:"model"`
	Contents          []gemContent `json:"contents"`
	SystemInstruction *gemContent  `json:"systemInstruction"`
	Tools             []struct {
		FunctionDeclarations []struct {
			Name        string `json:"name"`
			Description string `json:"description"`
			Parameters  struct {
				Type       int `json:"type"`
				Properties map[string]struct {
					Type int `json:"type"`
				} `json:"properties"`
				Required []string `json:"required"`
			} `json:"parameters"`
		} `json:"functionDeclarations"`
	} `json:"tools"`
	ToolConfig       json.RawMessage `json:"toolConfig"`
	GenerationConfig struct {
		CandidateCount  int      `json:"candidateCount"`
		MaxOutputTokens int      `json:"maxOutputTokens"`
		Temperature     *float64 `json:"temperature"`
	} `json:"generationConfig"`
}

type gemContent struct {
	Role  string    `json:"role"`
	Parts []gemPart `json:"parts"`
}

type gemPart struct {
	Text         string `json:"text,omitempty"`
	FunctionCall *struct {
		Name string          `json:"name"`
		Args json.RawMessage `json:"args"`
	} `json:"functionCall,omitempty"`
	FunctionResponse *struct {
		Name     string          `json:"name"`
		Response json.RawMessage `json:"response"`
	} `json:"functionResponse,omitempty"`
}

// kinds lists each part as "text", "call:NAME" or "result:NAME".
func (c gemContent) kinds() string {
	var ks []string
	for _, p := range c.Parts {
		switch {
		case p.FunctionCall != nil:
			ks = append(ks, "call:"+p.FunctionCall.Name)
		case p.FunctionResponse != nil:
			ks = append(ks, "result:"+p.FunctionResponse.Name)
		default:
			ks = append(ks, "text")
		}
	}
	return c.Role + "[" + strings.Join(ks, ",") + "]"
}

// gemReply builds a GenerateContentResponse with one candidate.
func gemReply(parts ...map[string]any) string {
	b, _ := json.Marshal(map[string]any{
		"candidates": []map[string]any{{
			"content":      map[string]any{"role": "model", "parts": parts},
			"finishReason": gemFinishStop,
			"index":        0,
		}},
		"usageMetadata": map[string]any{"promptTokenCount": 5, "candidatesTokenCount": 7, "totalTokenCount": 12},
		// A field the pinned client does not know: real answers carry
		// newer fields, which must be ignored.
		"modelVersion": "gemini-test-001",
	})
	return string(b)
}

func gemText(s string) map[string]any { return map[string]any{"text": s} }

func gemCall(name string, args any) map[string]any {
	return map[string]any{"functionCall": map[string]any{"name": name, "args": args}}
}

func newGeminiTest(t *testing.T, retries int) (*gemServer, llm.Model) {
	t.Helper()
	s := newGemServer(t)
	m, err := New(context.Background(), Config{Provider: Gemini, Model: "gemini-test", BaseURL: s.URL, APIKey: "gem-key", Retries: retries})
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

func TestGeminiGenerate(t *testing.T) {
	conversation := []llm.Message{
		{Role: llm.RoleSystem, Content: "be brief"},
		{Role: llm.RoleSystem, Content: "use tools"},
		{Role: llm.RoleUser, Content: "weather and time in Oslo?"},
		{Role: llm.RoleAssistant, Content: "checking", ToolCalls: []llm.ToolCall{
			{ID: "c1", Name: "get_weather", Arguments: json.RawMessage(`{"city":"Oslo"}`)},
			{ID: "c2", Name: "get_time", Arguments: json.RawMessage(`"not an object"`)},
		}},
		{Role: llm.RoleTool, ToolCallID: "c1", Name: "get_weather", Content: "rain"},
		// No name: it is taken from the call it answers.
		{Role: llm.RoleTool, ToolCallID: "c2", Content: "10:00"},
	}
	tests := []struct {
		name      string
		req       llm.Request
		reply     string
		split     []string // the streamed responses, when the reply is split
		wantPath  string
		want      llm.Response
		check     func(t *testing.T, r *gemRequest)
		wantNoCfg bool
	}{
		{
			name:     "text answer",
			req:      llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}},
			reply:    gemReply(gemText("hello "), gemText("there")),
			wantPath: geminiPath,
			want:     llm.Response{Content: "hello there"},
			check: func(t *testing.T, r *gemRequest) {
				if len(r.Contents) != 1 || r.Contents[0].kinds() != "user[text]" || r.Contents[0].Parts[0].Text != "hi" {
					t.Errorf("contents = %+v", r.Contents)
				}
				if r.SystemInstruction != nil || len(r.Tools) != 0 {
					t.Errorf("system/tools sent without being asked: %+v %+v", r.SystemInstruction, r.Tools)
				}
				g := r.GenerationConfig
				if g.CandidateCount != 1 || g.MaxOutputTokens != geminiMaxTokens || g.Temperature == nil || *g.Temperature != 0 {
					t.Errorf("generationConfig = %+v", g)
				}
			},
			wantNoCfg: true,
		},
		{
			name: "forced tool call",
			req: llm.Request{
				Messages:   []llm.Message{{Role: llm.RoleSystem, Content: "be brief"}, {Role: llm.RoleUser, Content: "weather in Oslo?"}},
				Tools:      []llm.Tool{weatherTool, timeTool},
				ToolChoice: "get_weather",
			},
			// Streamed in two responses, as the real API does: the
			// client merges them.
			split:    []string{gemReply(gemText("checking")), gemReply(gemCall("get_weather", map[string]any{"city": "Oslo"}))},
			wantPath: geminiStreamPath,
			want:     llm.Response{Content: "checking", ToolCalls: []llm.ToolCall{{ID: "call_0", Name: "get_weather", Arguments: json.RawMessage(`{"city":"Oslo"}`)}}},
			check: func(t *testing.T, r *gemRequest) {
				if r.SystemInstruction == nil || r.SystemInstruction.kinds() != "system[text]" || r.SystemInstruction.Parts[0].Text != "be brief" {
					t.Errorf("systemInstruction = %+v", r.SystemInstruction)
				}
				if len(r.Tools) != 1 || len(r.Tools[0].FunctionDeclarations) != 2 {
					t.Fatalf("tools = %+v", r.Tools)
				}
				fd := r.Tools[0].FunctionDeclarations[0]
				if fd.Name != "get_weather" || fd.Description != "Weather for a city" || fd.Parameters.Type != gemTypeObject ||
					fd.Parameters.Properties["city"].Type != gemTypeString || strings.Join(fd.Parameters.Required, ",") != "city" {
					t.Errorf("function declaration = %+v", fd)
				}
				if fd := r.Tools[0].FunctionDeclarations[1]; fd.Name != "get_time" || fd.Parameters.Type != gemTypeObject {
					t.Errorf("parameterless declaration = %+v", fd)
				}
				if !jsonEqual(t, r.ToolConfig, []byte(`{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}}`)) {
					t.Errorf("toolConfig = %s", r.ToolConfig)
				}
			},
		},
		{
			name:     "required tool call",
			req:      llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}, Tools: []llm.Tool{weatherTool}, ToolChoice: "required"},
			reply:    gemReply(gemCall("get_weather", map[string]any{"city": "Rome"}), gemCall("get_weather", map[string]any{"city": "Oslo"})),
			wantPath: geminiPath,
			want: llm.Response{ToolCalls: []llm.ToolCall{
				{ID: "call_0", Name: "get_weather", Arguments: json.RawMessage(`{"city":"Rome"}`)},
				{ID: "call_1", Name: "get_weather", Arguments: json.RawMessage(`{"city":"Oslo"}`)},
			}},
			check: func(t *testing.T, r *gemRequest) {
				if !jsonEqual(t, r.ToolConfig, []byte(`{"functionCallingConfig":{"mode":"ANY"}}`)) {
					t.Errorf("toolConfig = %s", r.ToolConfig)
				}
			},
		},
		{
			name:     "tool choice none",
			req:      llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}}, Tools: []llm.Tool{weatherTool}, ToolChoice: "none"},
			reply:    gemReply(gemText("no tools")),
			wantPath: geminiPath,
			want:     llm.Response{Content: "no tools"},
			check: func(t *testing.T, r *gemRequest) {
				if !jsonEqual(t, r.ToolConfig, []byte(`{"functionCallingConfig":{"mode":"NONE"}}`)) {
					t.Errorf("toolConfig = %s", r.ToolConfig)
				}
			},
		},
		{
			name:     "conversation with tool results",
			req:      llm.Request{Messages: conversation, Tools: []llm.Tool{weatherTool, timeTool}, ToolChoice: "auto"},
			reply:    gemReply(gemText("Rain, 10:00.")),
			wantPath: geminiStreamPath,
			want:     llm.Response{Content: "Rain, 10:00."},
			check: func(t *testing.T, r *gemRequest) {
				if r.SystemInstruction == nil || r.SystemInstruction.Parts[0].Text != "be brief\n\nuse tools" {
					t.Errorf("systemInstruction = %+v", r.SystemInstruction)
				}
				var got []string
				for _, c := range r.Contents {
					got = append(got, c.kinds())
				}
				// Both results of the turn travel in one content, after
				// the model turn that asked for them.
				want := "user[text] model[text,call:get_weather,call:get_time] user[result:get_weather,result:get_time]"
				if strings.Join(got, " ") != want {
					t.Fatalf("contents = %s\nwant       %s", strings.Join(got, " "), want)
				}
				calls := r.Contents[1].Parts
				if !jsonEqual(t, calls[1].FunctionCall.Args, []byte(`{"city":"Oslo"}`)) || !jsonEqual(t, calls[2].FunctionCall.Args, []byte(`{}`)) {
					t.Errorf("replayed args = %s, %s", calls[1].FunctionCall.Args, calls[2].FunctionCall.Args)
				}
				res := r.Contents[2].Parts
				if !jsonEqual(t, res[0].FunctionResponse.Response, []byte(`{"response":"rain"}`)) ||
					!jsonEqual(t, res[1].FunctionResponse.Response, []byte(`{"response":"10:00"}`)) {
					t.Errorf("function responses = %s, %s", res[0].FunctionResponse.Response, res[1].FunctionResponse.Response)
				}
				if !jsonEqual(t, r.ToolConfig, []byte(`{"functionCallingConfig":{"mode":"AUTO"}}`)) {
					t.Errorf("toolConfig = %s", r.ToolConfig)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, m := newGeminiTest(t, -1)
			s.script(http.StatusOK, tt.reply, tt.split...)
			resp, err := m.Generate(context.Background(), &tt.req)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if resp.Content != tt.want.Content || len(resp.ToolCalls) != len(tt.want.ToolCalls) {
				t.Fatalf("Generate = %+v, want %+v", resp, tt.want)
			}
			for i, tc := range resp.ToolCalls {
				w := tt.want.ToolCalls[i]
				if tc.ID != w.ID || tc.Name != w.Name || !jsonEqual(t, tc.Arguments, w.Arguments) {
					t.Errorf("tool call %d = %+v, want %+v", i, tc, w)
				}
			}
			hr, body := s.last(t)
			if hr.URL.Path != tt.wantPath {
				t.Errorf("path = %s, want %s", hr.URL.Path, tt.wantPath)
			}
			if got := hr.Header.Get("x-goog-api-key"); got != "gem-key" {
				t.Errorf("x-goog-api-key = %q", got)
			}
			if strings.Contains(hr.URL.RawQuery, "gem-key") {
				t.Errorf("key in the URL: %s", hr.URL.RawQuery)
			}
			if body.Model != "models/gemini-test" {
				t.Errorf("model = %q", body.Model)
			}
			if tt.wantNoCfg && body.ToolConfig != nil {
				t.Errorf("toolConfig sent without tools: %s", body.ToolConfig)
			}
			tt.check(t, body)
		})
	}
}

// TestGeminiErrors: answers that are not a usable response become errors
// that say what happened; each is sent once (retries off here).
func TestGeminiErrors(t *testing.T) {
	hi := llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}
	tests := []struct {
		name    string
		status  int
		reply   string
		req     llm.Request
		wantErr string
		wantIs  error
	}{
		{name: "bad request", status: 400, reply: `{"error":{"code":400,"message":"API key not valid","status":"INVALID_ARGUMENT"}}`, req: hi, wantErr: "API key not valid"},
		{name: "server error after retries", status: 503, reply: `{"error":{"code":503,"message":"The model is overloaded","status":"UNAVAILABLE"}}`, req: hi, wantErr: "UNAVAILABLE: The model is overloaded"},
		// The Google client would retry this until the deadline: its
		// retry test reads the code in the body.
		{name: "400 whose body says 503", status: 400, reply: gemUnavailable, req: hi, wantErr: "400 Bad Request"},
		{name: "302 without Location whose body says 503", status: 302, reply: gemUnavailable, req: hi, wantErr: "302 Found"},
		{name: "no candidates", status: 200, reply: `{"candidates":[]}`, req: hi, wantIs: llm.ErrNoResponse},
		{name: "blocked prompt", status: 200, reply: `{"promptFeedback":{"blockReason":1}}`, req: hi, wantErr: "blocked"},
		{name: "garbage", status: 200, reply: `<html>`, req: hi, wantErr: "gemini generate"},
		{name: "only system", req: llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: "x"}}}, wantErr: "only system messages"},
		{name: "tool result for no call", req: llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "x"}, {Role: llm.RoleTool, ToolCallID: "zz", Content: "r"}}}, wantErr: "tool result without a name"},
		{name: "tool choice names no tool", req: llm.Request{Messages: hi.Messages, Tools: []llm.Tool{weatherTool}, ToolChoice: "get_time"}, wantErr: "names no offered tool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, m := newGeminiTest(t, -1)
			s.script(tt.status, tt.reply)
			resp, err := m.Generate(context.Background(), &tt.req)
			if err == nil {
				t.Fatalf("Generate = %+v, want an error", resp)
			}
			if !strings.HasPrefix(err.Error(), "gemini generate: ") {
				t.Errorf("error %q does not name the operation", err)
			}
			if tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want it to contain %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error = %v, want errors.Is %v", err, tt.wantIs)
			}
			if strings.Contains(err.Error(), "gem-key") {
				t.Errorf("error leaks the key: %v", err)
			}
			if tt.status != 0 && s.count() != 1 {
				t.Errorf("server saw %d requests, want 1", s.count())
			}
		})
	}
}

func TestGeminiCancel(t *testing.T) {
	s, m := newGeminiTest(t, 0)
	arrived := make(chan struct{})
	s.mu.Lock()
	s.block = arrived
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-arrived
		cancel()
	}()
	resp, err := m.Generate(ctx, &llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: "s"}, {Role: llm.RoleUser, Content: "hi"}}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Generate = %+v, %v; want context.Canceled in the chain", resp, err)
	}
	if n := s.count(); n != 1 {
		t.Errorf("server saw %d requests after a cancel, want 1", n)
	}
}

// TestGeminiStreamRetried: the planner's path (streamGenerateContent)
// gets the same retries as everything else.
func TestGeminiStreamRetried(t *testing.T) {
	s := newSeqServer(t,
		answer{status: 503, retryAfter: "0", body: gemUnavailable},
		answer{status: 200, body: "[" + gemReply(gemCall("get_weather", map[string]any{"city": "Oslo"})) + "]"},
	)
	var rec retryRecord
	m, err := New(context.Background(), Config{Provider: Gemini, Model: "gemini-test", BaseURL: s.URL, APIKey: "k", OnRetry: rec.add})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := m.Generate(context.Background(), &llm.Request{
		Messages: []llm.Message{{Role: llm.RoleSystem, Content: "plan"}, {Role: llm.RoleUser, Content: "weather in Oslo"}},
		Tools:    []llm.Tool{weatherTool}, ToolChoice: "get_weather",
	})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if len(resp.ToolCalls) != 1 || resp.ToolCalls[0].Name != "get_weather" {
		t.Errorf("Generate = %+v", resp)
	}
	bodies, _ := s.requests()
	if len(bodies) != 2 || bodies[0] != bodies[1] {
		t.Errorf("server saw %d requests (want 2, same body)", len(bodies))
	}
	if !strings.Contains(bodies[1], `"toolConfig"`) {
		t.Errorf("retried body lost toolConfig: %s", bodies[1])
	}
	if !equalInts(rec.statuses, []int{503}) {
		t.Errorf("retried after %v, want [503]", rec.statuses)
	}
}

// FuzzGeminiWire feeds arbitrary server answers through the real Google
// client, on both methods (stream: a conversation longer than one user
// message): Generate must return an error or a well-formed response.
func FuzzGeminiWire(f *testing.F) {
	for _, s := range []string{
		gemReply(gemText("hello")),
		gemReply(gemCall("get_weather", map[string]any{"city": "Paris"})),
		`{"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AA=="}}]}}]}`,
		`{"candidates":[{"finishReason":3}]}`,
	} {
		f.Add(200, false, s)
		f.Add(200, true, "["+s+"]")
	}
	f.Add(200, true, "["+gemReply(gemText("a"))+","+gemReply(gemCall("f", 1))+"]")
	f.Add(500, false, gemUnavailable)
	f.Fuzz(func(t *testing.T, status int, stream bool, body string) {
		if status < 100 || status > 599 {
			status = 200
		}
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
			return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
		})}
		m, err := New(context.Background(), Config{Provider: Gemini, Model: "m", APIKey: "k", BaseURL: "http://127.0.0.1:1", HTTPClient: hc, Retries: -1})
		if err != nil {
			t.Fatal(err)
		}
		msgs := []llm.Message{{Role: llm.RoleUser, Content: "hi"}}
		if stream {
			msgs = append([]llm.Message{{Role: llm.RoleSystem, Content: "s"}}, msgs...)
		}
		resp, err := m.Generate(context.Background(), &llm.Request{Messages: msgs, Tools: []llm.Tool{weatherTool}})
		if err != nil {
			return
		}
		for _, tc := range resp.ToolCalls {
			if !json.Valid(tc.Arguments) {
				t.Fatalf("arguments %q are not JSON", tc.Arguments)
			}
		}
	})
}

// TestGeminiPlannerSchema: the planner's real tool (plan.Schema, with a
// nested array of objects and a free-form "args" object) converts to
// Gemini's schema subset and goes out with the forced choice; the plan
// comes back as arguments.
func TestGeminiPlannerSchema(t *testing.T) {
	s, m := newGeminiTest(t, -1)
	s.script(http.StatusOK, gemReply(gemCall(plan.ToolName, map[string]any{"steps": []any{map[string]any{"app": "quick_ride", "instruction": "fare", "args": map[string]any{"start_point": "A"}}}})))
	resp, err := m.Generate(context.Background(), &llm.Request{
		Messages:   []llm.Message{{Role: llm.RoleSystem, Content: "plan"}, {Role: llm.RoleUser, Content: "quick_ride fare from A to B"}},
		Tools:      []llm.Tool{{Name: plan.ToolName, Description: "Submit the plan", Parameters: json.RawMessage(plan.Schema)}},
		ToolChoice: plan.ToolName,
	})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if len(resp.ToolCalls) != 1 || resp.ToolCalls[0].Name != plan.ToolName {
		t.Fatalf("Generate = %+v", resp)
	}
	if _, err := plan.Decode(resp.ToolCalls[0].Arguments); err != nil {
		t.Errorf("plan from Gemini: %v", err)
	}
	_, body := s.last(t)
	var raw struct {
		Tools []struct {
			FunctionDeclarations []struct {
				Parameters json.RawMessage `json:"parameters"`
			} `json:"functionDeclarations"`
		} `json:"tools"`
	}
	s.mu.Lock()
	err = json.Unmarshal(s.bodies[len(s.bodies)-1], &raw)
	s.mu.Unlock()
	if err != nil || len(raw.Tools) != 1 || len(raw.Tools[0].FunctionDeclarations) != 1 {
		t.Fatalf("tools = %+v, %v", raw, err)
	}
	var params struct {
		Type       int `json:"type"`
		Properties struct {
			Steps struct {
				Type  int `json:"type"`
				Items struct {
					Type       int `json:"type"`
					Properties map[string]struct {
						Type int `json:"type"`
					} `json:"properties"`
					Required []string `json:"required"`
				} `json:"items"`
			} `json:"steps"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw.Tools[0].FunctionDeclarations[0].Parameters, &params); err != nil {
		t.Fatal(err)
	}
	st := params.Properties.Steps
	if params.Type != gemTypeObject || st.Type != 5 /* ARRAY */ || st.Items.Type != gemTypeObject ||
		st.Items.Properties["app"].Type != gemTypeString || st.Items.Properties["args"].Type != gemTypeObject ||
		strings.Join(st.Items.Required, ",") != "app,instruction" {
		t.Errorf("planner schema as sent: %s", raw.Tools[0].FunctionDeclarations[0].Parameters)
	}
	if !jsonEqual(t, body.ToolConfig, []byte(`{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["`+plan.ToolName+`"]}}`)) {
		t.Errorf("toolConfig = %s", body.ToolConfig)
	}
}
