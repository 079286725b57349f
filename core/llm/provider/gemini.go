package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/googleai"
	"google.golang.org/api/option"

	"github.com/secgpt-go/secgpt/core/llm"
)

// DefaultGeminiBaseURL is the Gemini API host. Unlike the other providers'
// defaults it has no version path: the Google client appends
// "/v1beta/models/{model}:generateContent" itself.
const DefaultGeminiBaseURL = "https://generativelanguage.googleapis.com"

// geminiMaxTokens is sent as maxOutputTokens: langchaingo's default (2048)
// is short for a plan with several steps.
const geminiMaxTokens = 8192

// geminiModel speaks the Gemini API (generativelanguage v1beta REST)
// through langchaingo's llms/googleai, which is built on Google's
// generative-ai-go SDK. That SDK's generate calls go over REST, through
// the *http.Client given to it, so the same retry layer as the other
// providers applies and a local server can stand in for Google in tests.
type geminiModel struct {
	client  *googleai.GoogleAI
	timeout time.Duration
}

func newGemini(ctx context.Context, model, base, key string, hc doer, timeout time.Duration) (*geminiModel, error) {
	// With its own *http.Client the Google client sends no key, so the
	// transport adds it as a header (never in the URL, which error
	// messages quote).
	httpc := &http.Client{Transport: geminiTransport{next: hc, key: key}}
	opts := []googleai.Option{
		// An explicit key, even a placeholder, keeps langchaingo from
		// reading GOOGLE_API_KEY on its own.
		googleai.WithAPIKey(key),
		googleai.WithHTTPClient(httpc),
		googleai.WithDefaultModel(model),
		googleai.WithDefaultTemperature(0),
		googleai.WithDefaultMaxTokens(geminiMaxTokens),
		googleai.WithDefaultCandidateCount(1),
	}
	if base != DefaultGeminiBaseURL {
		opts = append(opts, func(o *googleai.Options) {
			o.ClientOptions = append(o.ClientOptions, option.WithEndpoint(base))
		})
	}
	c, err := googleai.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("gemini provider: %w", err)
	}
	return &geminiModel{client: c, timeout: timeout}, nil
}

// Generate sends req as one generateContent call and merges the answer's
// parts (text and function calls) into one llm.Response.
func (m *geminiModel) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	return m.call(ctx, req, nil)
}

// GenerateStream is Generate through streamGenerateContent, with the
// answer's text parts handed to onText. A request with tools is sent
// unstreamed, like every provider here: its answer is mostly a call.
func (m *geminiModel) GenerateStream(ctx context.Context, req *llm.Request, onText func(context.Context, string) error) (*llm.Response, error) {
	return streamUnlessTools(ctx, req, onText, m.call)
}

// call sends req; onText, if set, streams the answer.
func (m *geminiModel) call(ctx context.Context, req *llm.Request, onText func(context.Context, string) error) (*llm.Response, error) {
	const op = "gemini generate"
	if err := checkRequest(req); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	msgs, err := geminiMessages(req.Messages)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var opts []llms.CallOption
	if len(req.Tools) > 0 {
		ts, err := tools(req.Tools)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		opts = append(opts, llms.WithTools(ts))
		// langchaingo sends no toolConfig; the transport adds it to this
		// call's body, found through the context.
		if tc := geminiToolConfig(req.ToolChoice); tc != nil {
			ctx = context.WithValue(ctx, geminiToolConfigKey{}, tc)
		}
	}
	ts := newTextStream(onText)
	opts = append(opts, ts.options()...)
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	resp, err := generate(ctx, m.client, msgs, opts)
	choices, err := callAnswer(ctx, op, ts, resp, err, googleai.ErrNoContentInResponse)
	if err != nil {
		return nil, err
	}
	// candidateCount is 1; a server that sends more gets its first.
	return response(choices[:1]), nil
}

// geminiMessages lays the conversation out for langchaingo's Gemini
// client: one system message (it keeps only the last as the system
// instruction), assistant turns as "model" contents with text and function
// call parts, and the results of one turn's calls together in one content,
// as the API expects. A function response is matched by name, not ID, so
// a tool message without a name takes the name of the call it answers.
func geminiMessages(ms []llm.Message) ([]llms.MessageContent, error) {
	var system []string
	names := map[string]string{} // tool call ID -> function name
	out := make([]llms.MessageContent, 0, len(ms)+1)
	hasTurn := false
	for i, m := range ms {
		switch m.Role {
		case llm.RoleSystem:
			system = append(system, m.Content)
			continue
		case llm.RoleUser:
			out = append(out, llms.TextParts(llms.ChatMessageTypeHuman, m.Content))
		case llm.RoleAssistant:
			mc := llms.MessageContent{Role: llms.ChatMessageTypeAI}
			if m.Content != "" || len(m.ToolCalls) == 0 {
				mc.Parts = append(mc.Parts, llms.TextContent{Text: m.Content})
			}
			for _, tc := range m.ToolCalls {
				names[tc.ID] = tc.Name
				mc.Parts = append(mc.Parts, llms.ToolCall{
					ID:           tc.ID,
					Type:         "function",
					FunctionCall: &llms.FunctionCall{Name: tc.Name, Arguments: objectArgs(tc.Arguments)},
				})
			}
			out = append(out, mc)
		case llm.RoleTool:
			name := m.Name
			if name == "" {
				name = names[m.ToolCallID]
			}
			if name == "" {
				return nil, fmt.Errorf("message %d: tool result without a name and for no earlier call (%q)", i, m.ToolCallID)
			}
			part := llms.ToolCallResponse{ToolCallID: m.ToolCallID, Name: name, Content: m.Content}
			if n := len(out); n > 0 && out[n-1].Role == llms.ChatMessageTypeTool {
				out[n-1].Parts = append(out[n-1].Parts, part)
				continue
			}
			out = append(out, llms.MessageContent{Role: llms.ChatMessageTypeTool, Parts: []llms.ContentPart{part}})
		default:
			return nil, fmt.Errorf("message %d: unknown role %q", i, m.Role)
		}
		hasTurn = true
	}
	if !hasTurn {
		// The client would index an empty history; say what is wrong.
		return nil, errors.New("request has only system messages")
	}
	if len(system) > 0 {
		sys := llms.TextParts(llms.ChatMessageTypeSystem, strings.Join(system, "\n\n"))
		out = append([]llms.MessageContent{sys}, out...)
	}
	return out, nil
}

// geminiToolConfigKey carries one call's toolConfig JSON in its context.
type geminiToolConfigKey struct{}

// geminiToolConfig maps our tool choice to Gemini's functionCallingConfig:
// AUTO, NONE, ANY, or ANY restricted to one function.
func geminiToolConfig(c string) json.RawMessage {
	cfg := map[string]any{}
	switch c {
	case "":
		return nil
	case choiceAuto:
		cfg["mode"] = "AUTO"
	case choiceNone:
		cfg["mode"] = "NONE"
	case choiceRequired:
		cfg["mode"] = "ANY"
	default:
		cfg["mode"] = "ANY"
		cfg["allowedFunctionNames"] = []string{c}
	}
	b, _ := json.Marshal(map[string]any{"functionCallingConfig": cfg}) // strings only: always marshals
	return b
}

// geminiTransport is the Google client's round tripper: it adds the key
// header and the call's toolConfig, sends through the retrying doer, and
// turns every answer that is not 2xx left after the retries (and redirects)
// into a transport error. The last step matters: the Google client has its own
// retry loop, unbounded but for the deadline, for any error answer whose
// code says 503 (the HTTP status, or the code in the error body, even of a
// 400), which would otherwise start again after ours gave up.
type geminiTransport struct {
	next doer
	key  string
}

// RoundTrip implements http.RoundTripper.
func (t geminiTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("x-goog-api-key", t.key)
	if tc, ok := req.Context().Value(geminiToolConfigKey{}).(json.RawMessage); ok && req.Body != nil && req.Body != http.NoBody {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil {
			return nil, fmt.Errorf("add toolConfig: %w", err)
		}
		fields["toolConfig"] = tc
		if body, err = json.Marshal(fields); err != nil {
			return nil, fmt.Errorf("add toolConfig: %w", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	resp, err := t.next.Do(r)
	// Redirects were followed below; any status but 2xx is an error here.
	if err != nil || (resp.StatusCode >= 200 && resp.StatusCode < 300) {
		return resp, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxRetryBody))
	return nil, fmt.Errorf("gemini answered %s: %s", resp.Status, geminiErrorMessage(b))
}

// geminiErrorMessage is the message of a Google API error body
// ({"error":{"message":…}}), or a bounded prefix of the body.
func geminiErrorMessage(b []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		if e.Error.Status != "" {
			return e.Error.Status + ": " + e.Error.Message
		}
		return e.Error.Message
	}
	const max = 200
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

var _ llm.StreamingModel = (*geminiModel)(nil)
