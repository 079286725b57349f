// Package provider builds real LLM backends (OpenAI and OpenAI-compatible
// servers, Ollama, Anthropic) behind the llm.Model seam, using langchaingo's
// HTTP clients. Only the cli/ wiring imports it: the hub, spokes and
// VanillaGPT see nothing but llm.Model.
package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/secgpt-go/secgpt/core/llm"
)

// Provider names accepted in Config.Provider.
const (
	OpenAI    = "openai"
	Anthropic = "anthropic"
	Ollama    = "ollama"
	// Bedrock is AWS Bedrock (Anthropic Claude models): credentials from
	// the AWS SDK's default chain, Config.Region or AWS_REGION.
	Bedrock = "bedrock"
	// Azure is Azure OpenAI: BaseURL is the resource endpoint
	// (https://NAME.openai.azure.com), Model the deployment name.
	Azure = "azure"
	// Gemini is Google's Gemini API (generativelanguage v1beta, API key).
	Gemini = "gemini"
)

// DefaultAzureAPIVersion is the Azure OpenAI api-version sent when
// Config.APIVersion is empty: a GA version with tool calling.
const DefaultAzureAPIVersion = "2024-10-21"

// doer sends one HTTP request: the seam langchaingo's clients take instead
// of an *http.Client, used here to add retries and request rewriting.
type doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Default base URLs, used when Config.BaseURL is empty. Each includes the
// API version path; the clients append "/chat/completions" or "/messages".
const (
	DefaultOpenAIBaseURL    = "https://api.openai.com/v1"
	DefaultAnthropicBaseURL = "https://api.anthropic.com/v1"
	DefaultOllamaBaseURL    = "http://127.0.0.1:11434/v1"
)

// DefaultTimeout bounds one Generate call when Config.Timeout is zero.
const DefaultTimeout = 2 * time.Minute

// placeholderKey is sent to servers that need no key.
const placeholderKey = "unused"

// anthropicMaxTokens is sent as max_tokens, which the Messages API requires.
const anthropicMaxTokens = 4096

// Config selects and configures one provider. Field names match the
// environment variables the config package reads (SECGPT_MODEL_PROVIDER,
// SECGPT_MODEL, SECGPT_MODEL_BASE_URL, SECGPT_MODEL_API_KEY).
type Config struct {
	// Provider is "openai", "anthropic", "ollama", "azure", "bedrock" or
	// "gemini".
	Provider string
	// Model is the provider's model name, e.g. "gpt-4o-mini".
	Model string
	// BaseURL overrides the provider's default API root (including /v1).
	BaseURL string
	// APIKey is required for the hosted OpenAI and Anthropic APIs (BaseURL
	// empty); Ollama and self-hosted servers may leave it empty.
	APIKey string
	// Timeout bounds one Generate call; zero means DefaultTimeout.
	Timeout time.Duration
	// HTTPClient is used for all requests; nil means a fresh http.Client.
	HTTPClient *http.Client
	// Retries is how many times a request that failed with 429, 5xx or a
	// connection error is sent again (within Timeout); zero means
	// DefaultRetries, negative means never.
	Retries int
	// OnRetry, if non-nil, is called before each retry with the HTTP status
	// (0 for a connection error) and the wait.
	OnRetry func(status int, wait time.Duration)
	// Region is the AWS region for Bedrock; empty means the SDK's default
	// (AWS_REGION, shared config).
	Region string
	// APIVersion is Azure OpenAI's api-version; empty means
	// DefaultAzureAPIVersion. Other providers ignore it.
	APIVersion string
}

// New validates cfg and returns a Model for it. It does no network I/O: a
// wrong key or an unreachable server shows up on the first Generate
// (Bedrock reads the AWS shared config files to find credentials).
func New(ctx context.Context, cfg Config) (llm.Model, error) {
	name := normalize(cfg.Provider)
	switch name {
	case "":
		return nil, errors.New("model provider is empty (set SECGPT_MODEL_PROVIDER or model.provider to openai, azure, anthropic, bedrock, gemini or ollama)")
	case OpenAI, Anthropic, Ollama, Bedrock, Gemini:
	case Azure:
		// Azure has no default endpoint: each resource has its own.
		if strings.TrimSpace(cfg.BaseURL) == "" {
			return nil, errors.New("azure provider: base url is empty (set SECGPT_MODEL_BASE_URL or model.base_url to https://RESOURCE.openai.azure.com)")
		}
		if cfg.APIKey == "" {
			return nil, errors.New("azure provider: api key is empty (set SECGPT_MODEL_API_KEY or model.api_key)")
		}
	default:
		return nil, fmt.Errorf("unknown model provider %q (set SECGPT_MODEL_PROVIDER or model.provider to openai, azure, anthropic, bedrock, gemini or ollama)", cfg.Provider)
	}
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, fmt.Errorf("%s provider: model is empty (set SECGPT_MODEL or model.name)", name)
	}
	base, err := baseURL(name, cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	key := cfg.APIKey
	if key == "" {
		// The hosted APIs need a key; Ollama and self-hosted compatible
		// servers usually don't, but langchaingo's clients refuse to start
		// without one, so they get a placeholder.
		if name != Ollama && name != Bedrock && cfg.BaseURL == "" {
			return nil, fmt.Errorf("%s provider: api key is empty (set SECGPT_MODEL_API_KEY or model.api_key)", name)
		}
		key = placeholderKey
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	retries := cfg.Retries
	switch {
	case retries == 0:
		retries = DefaultRetries
	case retries < 0:
		retries = 0
	}
	doer := newRetryDoer(hc, retries, cfg.OnRetry)
	switch name {
	case Anthropic:
		return newAnthropic(cfg.Model, base, key, doer, timeout), nil
	case Bedrock:
		return newBedrock(ctx, cfg.Model, base, cfg.Region, doer, timeout)
	case Azure:
		return newAzure(cfg.Model, base, key, cfg.APIVersion, doer, timeout)
	case Gemini:
		return newGemini(ctx, cfg.Model, base, key, doer, timeout)
	}
	return newOpenAI(name, cfg.Model, base, key, doer, timeout)
}

// Describe returns a one-line description of cfg for the startup banner,
// e.g. "openai gpt-4o-mini at https://api.openai.com/v1". It never includes
// the API key or credentials embedded in the base URL.
func Describe(cfg Config) string {
	name := normalize(cfg.Provider)
	if name == "" {
		name = "(no provider)"
	}
	model := strings.TrimSpace(cfg.Model)
	if model == "" {
		model = "(no model)"
	}
	base := cfg.BaseURL
	if base == "" {
		base = defaultBaseURL(name)
	}
	if base == "" {
		return name + " " + model
	}
	return name + " " + model + " at " + redactURL(base)
}

// redactURL drops credentials, query and fragment from a URL so that it can
// be logged; an unparsable URL is not echoed at all.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "(invalid base url)"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}

func normalize(p string) string { return strings.ToLower(strings.TrimSpace(p)) }

func defaultBaseURL(name string) string {
	switch name {
	case OpenAI:
		return DefaultOpenAIBaseURL
	case Anthropic:
		return DefaultAnthropicBaseURL
	case Ollama:
		return DefaultOllamaBaseURL
	case Gemini:
		return DefaultGeminiBaseURL
	}
	return ""
}

// baseURL returns the configured or default API root, checked to be an
// absolute http(s) URL so a typo fails at start rather than on first use.
func baseURL(name, configured string) (string, error) {
	if configured == "" {
		return defaultBaseURL(name), nil
	}
	u, err := url.Parse(configured)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s provider: base url %s is not an http(s) URL (set SECGPT_MODEL_BASE_URL or model.base_url)", name, redactURL(configured))
	}
	return strings.TrimSuffix(configured, "/"), nil
}
