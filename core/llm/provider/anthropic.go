package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/anthropic"

	"github.com/secgpt-go/secgpt/core/llm"
)

// anthropicModel speaks the Anthropic Messages API.
//
// langchaingo v0.1.14 has no tool_choice for Anthropic, so each call builds a
// client whose HTTP layer adds it to the request body. Building a client does
// no I/O and shares the underlying http.Client.
type anthropicModel struct {
	model   string
	base    string
	key     string
	hc      doer
	timeout time.Duration
}

func newAnthropic(model, base, key string, hc doer, timeout time.Duration) *anthropicModel {
	return &anthropicModel{model: model, base: base, key: key, hc: hc, timeout: timeout}
}

// Generate sends req as one message request and merges the answer's content
// blocks, which langchaingo returns as separate choices.
func (m *anthropicModel) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	return m.call(ctx, req, nil)
}

// GenerateStream is Generate with the answer streamed (server-sent events)
// and its text deltas handed to onText. A request with tools is sent
// unstreamed, like every provider here: its answer is mostly a call.
func (m *anthropicModel) GenerateStream(ctx context.Context, req *llm.Request, onText func(context.Context, string) error) (*llm.Response, error) {
	return streamUnlessTools(ctx, req, onText, m.call)
}

// call sends req; onText, if set, streams the answer.
func (m *anthropicModel) call(ctx context.Context, req *llm.Request, onText func(context.Context, string) error) (*llm.Response, error) {
	const op = "anthropic generate"
	if err := checkRequest(req); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	msgs, err := anthropicMessages(req.Messages)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	opts := []llms.CallOption{llms.WithMaxTokens(anthropicMaxTokens)}
	var choice json.RawMessage
	if len(req.Tools) > 0 {
		ts, err := tools(req.Tools)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		opts = append(opts, llms.WithTools(ts))
		choice = anthropicToolChoice(req.ToolChoice)
	}
	ts := newTextStream(onText)
	opts = append(opts, ts.options()...)
	client, err := anthropic.New(
		anthropic.WithToken(m.key),
		anthropic.WithModel(m.model),
		anthropic.WithBaseURL(m.base),
		anthropic.WithHTTPClient(toolChoiceDoer{next: m.hc, choice: choice}),
	)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	resp, err := generate(ctx, client, msgs, opts)
	choices, err := callAnswer(ctx, op, ts, resp, err, anthropic.ErrEmptyResponse)
	if err != nil {
		return nil, err
	}
	return response(choices), nil
}

// anthropicMessages lays the conversation out the way langchaingo's
// Anthropic client reads it: it looks only at the first part of each
// message, so an assistant turn with text and tool calls becomes several
// assistant messages, one block each. The API merges consecutive messages of
// one role into one turn, so the model sees the original turn.
func anthropicMessages(ms []llm.Message) ([]llms.MessageContent, error) {
	var system []string
	out := make([]llms.MessageContent, 0, len(ms)+1)
	for i, m := range ms {
		switch m.Role {
		case llm.RoleSystem:
			system = append(system, m.Content)
		case llm.RoleUser:
			out = append(out, llms.TextParts(llms.ChatMessageTypeHuman, m.Content))
		case llm.RoleAssistant:
			if m.Content != "" {
				out = append(out, llms.TextParts(llms.ChatMessageTypeAI, m.Content))
			}
			for _, tc := range m.ToolCalls {
				out = append(out, llms.MessageContent{
					Role: llms.ChatMessageTypeAI,
					Parts: []llms.ContentPart{llms.ToolCall{
						ID:           tc.ID,
						Type:         "function",
						FunctionCall: &llms.FunctionCall{Name: tc.Name, Arguments: objectArgs(tc.Arguments)},
					}},
				})
			}
		case llm.RoleTool:
			out = append(out, llms.MessageContent{
				Role:  llms.ChatMessageTypeTool,
				Parts: []llms.ContentPart{llms.ToolCallResponse{ToolCallID: m.ToolCallID, Name: m.Name, Content: m.Content}},
			})
		default:
			return nil, fmt.Errorf("message %d: unknown role %q", i, m.Role)
		}
	}
	if len(system) > 0 {
		sys := llms.TextParts(llms.ChatMessageTypeSystem, strings.Join(system, "\n\n"))
		out = append([]llms.MessageContent{sys}, out...)
	}
	return out, nil
}

// objectArgs returns a past call's arguments as a JSON object text. The
// Anthropic wire format holds tool_use input as an object; a call whose
// arguments were not one (the model produced garbage, which the caller
// rejected) is replayed as {} so the conversation can go on.
func objectArgs(a json.RawMessage) string {
	var obj map[string]any
	if json.Unmarshal(a, &obj) != nil || obj == nil {
		return "{}"
	}
	return string(a)
}

// anthropicToolChoice maps our tool choice to the Messages API's object.
func anthropicToolChoice(c string) json.RawMessage {
	var v any
	switch c {
	case "":
		return nil
	case choiceAuto:
		v = map[string]string{"type": "auto"}
	case choiceNone:
		v = map[string]string{"type": "none"}
	case choiceRequired:
		v = map[string]string{"type": "any"}
	default:
		v = map[string]string{"type": "tool", "name": c}
	}
	b, _ := json.Marshal(v) // a map of strings always marshals
	return b
}

// toolChoiceDoer adds "tool_choice" to the JSON body of each request.
type toolChoiceDoer struct {
	next   doer
	choice json.RawMessage
}

// Do implements langchaingo's anthropicclient.Doer.
func (d toolChoiceDoer) Do(req *http.Request) (*http.Response, error) {
	if d.choice == nil || req.Body == nil {
		return d.next.Do(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, fmt.Errorf("add tool_choice: %w", err)
	}
	fields["tool_choice"] = d.choice
	body, err = json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("add tool_choice: %w", err)
	}
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return d.next.Do(r)
}

var _ llm.StreamingModel = (*anthropicModel)(nil)
