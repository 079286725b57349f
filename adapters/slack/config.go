package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Environment variables the docs tell users to set; cli/ wiring reads them
// (through config/) and fills Config.
const (
	EnvBotToken = "SLACK_BOT_TOKEN"
	EnvAppToken = "SLACK_APP_TOKEN"
)

// Config configures an Adapter. Zero fields other than the tokens take the
// defaults documented on each field.
type Config struct {
	// BotToken is the bot user OAuth token (xoxb-…), used for the Web API.
	BotToken string
	// AppToken is the app-level token (xapp-…) with connections:write, used
	// to open Socket Mode connections.
	AppToken string
	// APIURL is the Web API base URL ending in "/api/"; "" means Slack's.
	// Tests point it at a local fake.
	APIURL string
	// HTTPClient makes Web API calls; nil means a client with a 30 s timeout.
	HTTPClient *http.Client

	// MaxAttempts bounds tries of one Web API call that fails with a network
	// error, a 5xx or a transient Slack error. Default 4. Rate-limited (429)
	// tries are counted separately (MaxRateLimitWaits).
	MaxAttempts int
	// MaxRateLimitWaits bounds how often one call waits out a 429. Default 8.
	MaxRateLimitWaits int
	// RetryBackoff is the first wait after a failed call; it doubles up to
	// MaxBackoff. Default 500 ms.
	RetryBackoff time.Duration
	// MaxBackoff caps waits between retries and reconnects. Default 1 min.
	MaxBackoff time.Duration
	// PingInterval is how long the socket may go without a ping from Slack
	// before it is considered dead and reopened. Default 30 s.
	PingInterval time.Duration
	// DedupSize is how many envelope and event ids are remembered to drop
	// redeliveries. Default 10000.
	DedupSize int
	// MaxPerUser bounds how many of one user's messages are answered at
	// once; more get a "please wait" reply. Default 3.
	MaxPerUser int
	// WorkingText is the status shown while a message is being answered.
	// Default "Working on it…".
	WorkingText string
	// SuggestedPrompts are offered when a user opens an AI assistant
	// thread (at most four are shown). Default: an introduction request
	// and the grants command.
	SuggestedPrompts []string
	// Threads keeps which threads are AI assistant threads and which
	// channel threads the bot takes part in. Give the deployment's store
	// (state.Store satisfies ThreadStore) so that every replica, and the
	// process after a restart, knows them; nil keeps them in memory.
	Threads ThreadStore
	// Feedback records a click on a reply's feedback buttons; the bot's
	// wiring appends it to the audit log. nil only logs it.
	Feedback func(ctx context.Context, f Feedback) error
	// LoadingMessages are shown in turn, by Slack, in an AI assistant
	// thread's status line while a message is being answered (before an
	// app is named). Default: a few short lines about what happens.
	LoadingMessages []string
	// StreamInterval is the least time between two changes of a streamed
	// reply (chat.appendStream, or chat.update where Slack cannot
	// stream). Default 1 s: chat.update is a Tier 3 method (about 50 calls
	// a minute per workspace), chat.appendStream Tier 4, and one change a
	// second per reply leaves room for other replies and prompts.
	StreamInterval time.Duration
}

// TokenError says which token is missing, malformed or rejected, and why.
type TokenError struct {
	// Token is "bot token" or "app-level token".
	Token string
	// Env is the environment variable that usually holds it.
	Env string
	// Reason is a short explanation or Slack's error code.
	Reason string
}

func (e *TokenError) Error() string {
	return fmt.Sprintf("slack %s (%s): %s", e.Token, e.Env, e.Reason)
}

// ErrFatalAuth is wrapped by the errors Run returns when Slack rejects a
// token (invalid_auth, token_revoked, …): retrying cannot help.
var ErrFatalAuth = errors.New("slack rejected the credentials")

// Validate checks the tokens' presence and kind without calling Slack.
func (c Config) Validate() error {
	var errs []error
	check := func(tok, name, env, prefix string) {
		switch {
		case strings.TrimSpace(tok) == "":
			errs = append(errs, &TokenError{Token: name, Env: env, Reason: "missing; set it to the " + prefix + "… token from the Slack app settings"})
		case !strings.HasPrefix(tok, prefix):
			errs = append(errs, &TokenError{Token: name, Env: env, Reason: "must start with " + prefix + " (got a token starting " + tokenKind(tok) + ")"})
		case strings.ContainsAny(tok, " \t\r\n"):
			errs = append(errs, &TokenError{Token: name, Env: env, Reason: "contains whitespace; copy it again"})
		}
	}
	check(c.BotToken, "bot token", EnvBotToken, "xoxb-")
	check(c.AppToken, "app-level token", EnvAppToken, "xapp-")
	return errors.Join(errs...)
}

// tokenKind returns a token's prefix up to the first dash, never the secret.
func tokenKind(tok string) string {
	if i := strings.IndexByte(tok, '-'); i > 0 && i <= 5 {
		return tok[:i+1]
	}
	return "with something else"
}

func (c Config) withDefaults() Config {
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 4
	}
	if c.MaxRateLimitWaits <= 0 {
		c.MaxRateLimitWaits = 8
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 500 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Minute
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.DedupSize <= 0 {
		c.DedupSize = 10000
	}
	if c.MaxPerUser <= 0 {
		c.MaxPerUser = 3
	}
	if c.WorkingText == "" {
		c.WorkingText = "Working on it…"
	}
	if c.Threads == nil {
		c.Threads = newMemThreads(c.DedupSize)
	}
	if c.StreamInterval <= 0 {
		c.StreamInterval = time.Second
	}
	if c.LoadingMessages == nil {
		c.LoadingMessages = []string{"Reading your request…", "Planning which apps to use…", "Working on it…"}
	}
	if c.SuggestedPrompts == nil {
		c.SuggestedPrompts = []string{"What can you do?", "!grants"}
	}
	return c
}
