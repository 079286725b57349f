package slack

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/secgpt-go/secgpt/adapters/slack/internal/slackfake"
)

// TestRetryCoverageVersusSlackGo measures, against the local Slack
// server, how often chat.postMessage is sent for each kind of failure by
// slack-go's own retries (v0.35: OptionRetryConfig with every built-in
// handler and the opt-in 5xx one) and by our call(). It pins the reason
// docs/slack.md gives for keeping retry.go: Slack's ok:false errors that
// mean "try again" come with HTTP 200, which slack-go's handlers (they
// look at the HTTP status only) never retry. If a slack-go upgrade starts
// retrying them, this test fails and the choice should be made again.
func TestRetryCoverageVersusSlackGo(t *testing.T) {
	tests := []struct {
		name          string
		fault         slackfake.Fault
		slackGoSends  int // with slack-go's retries alone
		ourSends      int // with call() over a client without retries
		slackGoFailed bool
	}{
		{name: "HTTP 503", fault: slackfake.Fault{Status: 503}, slackGoSends: 2, ourSends: 2},
		{name: "HTTP 429 with Retry-After", fault: slackfake.Fault{Status: 429, RetryAfter: 1}, slackGoSends: 2, ourSends: 2},
		{name: "ok:false internal_error", fault: slackfake.Fault{SlackError: "internal_error"}, slackGoSends: 1, ourSends: 2, slackGoFailed: true},
		{name: "ok:false ratelimited", fault: slackfake.Fault{SlackError: "ratelimited"}, slackGoSends: 1, ourSends: 2, slackGoFailed: true},
		{name: "ok:false channel_not_found is final for both", fault: slackfake.Fault{SlackError: "channel_not_found"}, slackGoSends: 1, ourSends: 1, slackGoFailed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			post := func(api *slack.Client) error {
				_, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("hello", false))
				return err
			}

			fake := slackfake.New(slackfake.Options{})
			defer fake.Close()
			fake.Inject("chat.postMessage", tt.fault)
			rc := slack.DefaultRetryConfig()
			rc.BackoffInitial, rc.BackoffMax, rc.RetryAfterJitter, rc.BackoffJitter = time.Millisecond, 10*time.Millisecond, 0, 0
			rc.Handlers = append(slack.AllBuiltinRetryHandlers(rc), slack.NewServerErrorRetryHandler(rc))
			err := post(slack.New(slackfake.DefaultBotToken, slack.OptionAPIURL(fake.APIURL()), slack.OptionRetryConfig(rc)))
			if got := len(fake.Calls("chat.postMessage")); got != tt.slackGoSends {
				t.Errorf("slack-go retries: sent %d times, want %d", got, tt.slackGoSends)
			}
			if (err != nil) != tt.slackGoFailed {
				t.Errorf("slack-go retries: err = %v, want failure %v", err, tt.slackGoFailed)
			}

			fake2 := slackfake.New(slackfake.Options{})
			defer fake2.Close()
			fake2.Inject("chat.postMessage", tt.fault)
			a := &Adapter{cfg: Config{MaxAttempts: 4, MaxRateLimitWaits: 8, RetryBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond},
				log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			api := slack.New(slackfake.DefaultBotToken, slack.OptionAPIURL(fake2.APIURL()))
			err = a.call(ctx, "chat.postMessage", func(context.Context) error { return post(api) })
			if got := len(fake2.Calls("chat.postMessage")); got != tt.ourSends {
				t.Errorf("our call(): sent %d times, want %d", got, tt.ourSends)
			}
			if wantErr := tt.ourSends == 1; (err != nil) != wantErr {
				t.Errorf("our call(): err = %v", err)
			}
		})
	}
}
