package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"

	"github.com/secgpt-go/secgpt/core/llm"
)

// openAIModel speaks the OpenAI chat completions API, to OpenAI itself or to
// any compatible server (vLLM, llama.cpp, LM Studio, Ollama's /v1).
type openAIModel struct {
	name    string // "openai" or "ollama", for error messages
	client  *openai.LLM
	timeout time.Duration
}

func newOpenAI(name, model, base, key string, hc doer, timeout time.Duration, extra ...openai.Option) (*openAIModel, error) {
	// Every option is set explicitly so that langchaingo's own OPENAI_*
	// environment fallbacks never apply.
	opts := append([]openai.Option{
		openai.WithToken(key),
		openai.WithModel(model),
		openai.WithBaseURL(base),
		openai.WithOrganization(""),
		openai.WithHTTPClient(hc),
		openai.WithAPIType(openai.APITypeOpenAI),
	}, extra...)
	c, err := openai.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("%s provider: %w", name, err)
	}
	return &openAIModel{name: name, client: c, timeout: timeout}, nil
}

// newAzure speaks Azure OpenAI: the same chat completions body, sent to
// {base}/openai/deployments/{deployment}/chat/completions?api-version=…
// with the key in an api-key header. model is the deployment name.
func newAzure(deployment, base, key, version string, hc doer, timeout time.Duration) (*openAIModel, error) {
	if version == "" {
		version = DefaultAzureAPIVersion
	}
	return newOpenAI(Azure, deployment, base, key, hc, timeout,
		openai.WithAPIType(openai.APITypeAzure), openai.WithAPIVersion(version))
}

// Generate sends req as one chat completion and returns the first choice.
func (m *openAIModel) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	return m.call(ctx, req, nil)
}

// GenerateStream is Generate with the answer streamed (server-sent events)
// and its text handed to onText as it arrives. A request with tools is not
// streamed: the client hands tool-call deltas to the same callback as
// text, as JSON, and those must never be shown as the reply.
func (m *openAIModel) GenerateStream(ctx context.Context, req *llm.Request, onText func(context.Context, string) error) (*llm.Response, error) {
	return streamUnlessTools(ctx, req, onText, m.call)
}

// call sends req; onText, if set, streams the answer.
func (m *openAIModel) call(ctx context.Context, req *llm.Request, onText func(context.Context, string) error) (*llm.Response, error) {
	op := m.name + " generate"
	if err := checkRequest(req); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	msgs, err := openAIMessages(req.Messages)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	opts, err := openAIOptions(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	ts := newTextStream(onText)
	opts = append(opts, ts.options()...)
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	resp, err := generate(ctx, m.client, msgs, opts)
	choices, err := callAnswer(ctx, op, ts, resp, err, nil)
	if err != nil {
		return nil, err
	}
	// Only n=1 is requested; a server that sends more gets its first.
	return response(choices[:1]), nil
}

// openAIMessages maps messages one to one; the client puts tool calls and
// tool results into the wire fields (tool_calls, tool_call_id) itself.
func openAIMessages(ms []llm.Message) ([]llms.MessageContent, error) {
	out := make([]llms.MessageContent, 0, len(ms))
	for i, m := range ms {
		var mc llms.MessageContent
		switch m.Role {
		case llm.RoleSystem:
			mc = llms.TextParts(llms.ChatMessageTypeSystem, m.Content)
		case llm.RoleUser:
			mc = llms.TextParts(llms.ChatMessageTypeHuman, m.Content)
		case llm.RoleAssistant:
			mc.Role = llms.ChatMessageTypeAI
			if m.Content != "" || len(m.ToolCalls) == 0 {
				mc.Parts = append(mc.Parts, llms.TextContent{Text: m.Content})
			}
			for _, tc := range m.ToolCalls {
				mc.Parts = append(mc.Parts, llms.ToolCall{
					ID:           tc.ID,
					Type:         "function",
					FunctionCall: &llms.FunctionCall{Name: tc.Name, Arguments: argsString(tc.Arguments)},
				})
			}
		case llm.RoleTool:
			mc = llms.MessageContent{
				Role:  llms.ChatMessageTypeTool,
				Parts: []llms.ContentPart{llms.ToolCallResponse{ToolCallID: m.ToolCallID, Name: m.Name, Content: m.Content}},
			}
		default:
			return nil, fmt.Errorf("message %d: unknown role %q", i, m.Role)
		}
		out = append(out, mc)
	}
	return out, nil
}

// openAIOptions carries tools and tool_choice. tool_choice goes out only
// with tools: the API rejects it alone.
func openAIOptions(req *llm.Request) ([]llms.CallOption, error) {
	if len(req.Tools) == 0 {
		return nil, nil
	}
	ts, err := tools(req.Tools)
	if err != nil {
		return nil, err
	}
	opts := []llms.CallOption{llms.WithTools(ts)}
	switch req.ToolChoice {
	case "":
	case choiceAuto, choiceNone, choiceRequired:
		opts = append(opts, llms.WithToolChoice(req.ToolChoice))
	default:
		opts = append(opts, llms.WithToolChoice(llms.ToolChoice{
			Type:     "function",
			Function: &llms.FunctionReference{Name: req.ToolChoice},
		}))
	}
	return opts, nil
}

var _ llm.StreamingModel = (*openAIModel)(nil)
