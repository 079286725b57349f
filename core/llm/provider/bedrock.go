package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/bedrock"

	"github.com/secgpt-go/secgpt/core/llm"
)

// bedrockModel speaks AWS Bedrock's InvokeModel API through langchaingo's
// Bedrock client and the AWS SDK (SigV4 signing, credentials from the
// SDK's default chain: environment, shared config, SSO, the instance or
// pod role).
//
// Only Anthropic Claude models: langchaingo v0.1.14 sends tools only in
// its Anthropic-on-Bedrock path, and the planner answers through a tool
// call.
type bedrockModel struct {
	client  *bedrock.LLM
	timeout time.Duration
}

func newBedrock(ctx context.Context, model, base, region string, hc doer, timeout time.Duration) (*bedrockModel, error) {
	if !strings.Contains(model, "anthropic.") {
		return nil, fmt.Errorf("bedrock provider: model %q is not an Anthropic Claude model (e.g. anthropic.claude-3-5-sonnet-20240620-v1:0 or us.anthropic.claude-…); langchaingo sends tool calls to Bedrock only for those", model)
	}
	opts := []func(*awsconfig.LoadOptions) error{
		// One retry policy for every provider: retryDoer honours
		// Retry-After and the call's timeout; the SDK's own retryer does
		// neither, and both together would multiply attempts.
		awsconfig.WithRetryMaxAttempts(1),
	}
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("bedrock provider: load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("bedrock provider: no AWS region (set model.region, SECGPT_MODEL_REGION or AWS_REGION)")
	}
	rc := bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
		// Set here rather than in the loaded config, which insists on
		// an *http.Client-like transport when AWS_CA_BUNDLE is set.
		o.HTTPClient = hc
		if base != "" {
			o.BaseEndpoint = aws.String(base)
		}
	})
	c, err := bedrock.New(bedrock.WithClient(rc), bedrock.WithModel(model), bedrock.WithModelProvider("anthropic"))
	if err != nil {
		return nil, fmt.Errorf("bedrock provider: %w", err)
	}
	return &bedrockModel{client: c, timeout: timeout}, nil
}

// Generate sends req as one InvokeModel call with an Anthropic Messages
// body and merges the answer's content blocks.
func (m *bedrockModel) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	return m.call(ctx, req, nil)
}

// GenerateStream is Generate through InvokeModelWithResponseStream, with
// the answer's text deltas handed to onText. A request with tools is sent
// unstreamed, like every provider here: its answer is mostly a call.
func (m *bedrockModel) GenerateStream(ctx context.Context, req *llm.Request, onText func(context.Context, string) error) (*llm.Response, error) {
	return streamUnlessTools(ctx, req, onText, m.call)
}

// call sends req; onText, if set, streams the answer.
func (m *bedrockModel) call(ctx context.Context, req *llm.Request, onText func(context.Context, string) error) (*llm.Response, error) {
	const op = "bedrock generate"
	if err := checkRequest(req); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	// langchaingo's Bedrock client, like its Anthropic one, reads one part
	// per message; the same layout serves both.
	msgs, err := anthropicMessages(req.Messages)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	opts := []llms.CallOption{llms.WithMaxTokens(anthropicMaxTokens)}
	if len(req.Tools) > 0 {
		ts, err := tools(req.Tools)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		opts = append(opts, llms.WithTools(ts))
		if c := bedrockToolChoice(req.ToolChoice); c != nil {
			opts = append(opts, llms.WithToolChoice(c))
		}
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
	return response(choices), nil
}

// bedrockToolChoice maps our choice to what langchaingo's Bedrock client
// converts: "auto", "required" (sent as any) or a tool name.
func bedrockToolChoice(c string) any {
	switch c {
	case "", choiceNone:
		// Bedrock has no "none"; langchaingo omits it too.
		return nil
	case choiceAuto, choiceRequired:
		return c
	}
	return map[string]any{"type": "function", "function": map[string]any{"name": c}}
}

var _ llm.StreamingModel = (*bedrockModel)(nil)
