package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tmc/langchaingo/llms"

	"github.com/secgpt-go/secgpt/core/llm"
)

// Tool choices with a fixed meaning; anything else names a tool.
const (
	choiceAuto     = "auto"
	choiceNone     = "none"
	choiceRequired = "required"
)

// emptySchema stands in for a tool without parameters: both APIs want an
// object schema on every function.
const emptySchema = `{"type":"object","properties":{}}`

// checkRequest rejects requests that no provider could serve sensibly, before
// any bytes go out.
func checkRequest(req *llm.Request) error {
	if req == nil {
		return fmt.Errorf("nil request")
	}
	if len(req.Messages) == 0 {
		return fmt.Errorf("request has no messages")
	}
	switch req.ToolChoice {
	case "", choiceAuto, choiceNone:
		return nil
	case choiceRequired:
		if len(req.Tools) == 0 {
			return fmt.Errorf("tool choice %q but no tools offered", req.ToolChoice)
		}
		return nil
	}
	if !req.HasTool(req.ToolChoice) {
		return fmt.Errorf("tool choice %q names no offered tool", req.ToolChoice)
	}
	return nil
}

// tools converts the request's tools, decoding each JSON Schema into a value
// so the client re-encodes it as an object rather than a string.
func tools(ts []llm.Tool) ([]llms.Tool, error) {
	out := make([]llms.Tool, 0, len(ts))
	for _, t := range ts {
		raw := t.Parameters
		if len(bytes.TrimSpace(raw)) == 0 {
			raw = json.RawMessage(emptySchema)
		}
		var params map[string]any
		if err := json.Unmarshal(raw, &params); err != nil {
			return nil, fmt.Errorf("tool %s: parameters are not a JSON object: %w", t.Name, err)
		}
		out = append(out, llms.Tool{
			Type: "function",
			Function: &llms.FunctionDefinition{
				Name:        t.Name,
				Description: t.Description,
				Parameters:  params,
			},
		})
	}
	return out, nil
}

// argsString is a call's arguments as the clients want them: a JSON text.
func argsString(a json.RawMessage) string {
	if len(bytes.TrimSpace(a)) == 0 {
		return "{}"
	}
	return string(a)
}

// normalizeArgs turns a provider's argument text into the JSON that
// llm.ToolCall.Arguments promises. Text that is not JSON at all is returned
// as a JSON string, so the caller's schema validation rejects it with a
// clear message instead of a decoder failing somewhere downstream.
func normalizeArgs(s string) json.RawMessage {
	t := strings.TrimSpace(s)
	if t == "" {
		return json.RawMessage("{}")
	}
	if json.Valid([]byte(t)) {
		return json.RawMessage(t)
	}
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

// response merges choices into one llm.Response: text parts joined, tool
// calls in order. Anthropic returns one choice per content block; OpenAI
// callers pass only the first choice.
func response(choices []*llms.ContentChoice) *llm.Response {
	var r llm.Response
	var texts []string
	for _, c := range choices {
		if c == nil {
			continue
		}
		if c.Content != "" {
			texts = append(texts, c.Content)
		}
		calls := c.ToolCalls
		if len(calls) == 0 && c.FuncCall != nil {
			// Legacy function_call answers from older compatible servers.
			calls = []llms.ToolCall{{FunctionCall: c.FuncCall}}
		}
		for _, tc := range calls {
			var name, args string
			if tc.FunctionCall != nil {
				name, args = tc.FunctionCall.Name, tc.FunctionCall.Arguments
			}
			id := tc.ID
			if id == "" {
				// Some local servers omit IDs; tool results need one to
				// refer to.
				id = fmt.Sprintf("call_%d", len(r.ToolCalls))
			}
			r.ToolCalls = append(r.ToolCalls, llm.ToolCall{ID: id, Name: name, Arguments: normalizeArgs(args)})
		}
	}
	r.Content = strings.Join(texts, "\n")
	return &r
}

// generate calls m, turning a panic inside the client library (some
// malformed server answers dereference nil there) into an error: a bad
// response from a model server must never take the hub down.
func generate(ctx context.Context, m llms.Model, msgs []llms.MessageContent, opts []llms.CallOption) (resp *llms.ContentResponse, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, fmt.Errorf("client failed on the server's answer: %v", p)
		}
	}()
	return m.GenerateContent(ctx, msgs, opts...)
}

// wrapErr names the operation and, when the context ended, keeps its error
// in the chain: the clients replace it with their own text.
func wrapErr(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// callAnswer is the end of every langchaingo provider's call: the stream
// reader's own error first (it gave up, so a partial answer must not be
// returned), then the call's (empty, if not nil, is the client's "no
// content" error, reported as llm.ErrNoResponse), then an empty answer.
func callAnswer(ctx context.Context, op string, ts *textStream, resp *llms.ContentResponse, err, empty error) ([]*llms.ContentChoice, error) {
	if serr := ts.failed(); serr != nil {
		return nil, fmt.Errorf("%s: stream the answer: %w", op, serr)
	}
	if err != nil {
		if empty != nil && errors.Is(err, empty) {
			return nil, fmt.Errorf("%s: %w", op, llm.ErrNoResponse)
		}
		return nil, wrapErr(ctx, op, err)
	}
	if resp == nil || len(resp.Choices) == 0 {
		return nil, fmt.Errorf("%s: %w", op, llm.ErrNoResponse)
	}
	return resp.Choices, nil
}
