package slack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/slack-go/slack"
)

// Slack error codes that mean the token is bad; retrying cannot help.
var fatalAuthCodes = map[string]bool{
	"invalid_auth": true, "not_authed": true, "account_inactive": true,
	"token_revoked": true, "token_expired": true, "no_permission": true,
	"not_allowed_token_type": true, "invalid_token": true,
}

// Slack error codes worth another try.
var transientCodes = map[string]bool{
	"internal_error": true, "fatal_error": true, "service_unavailable": true,
	"request_timeout": true, "ratelimited": true,
}

// slackCode returns Slack's error code in err, or "".
func slackCode(err error) string {
	if e, ok := errors.AsType[slack.SlackErrorResponse](err); ok {
		return e.Err
	}
	// Some slack-go paths (socketmode's connect) compare err.Error().
	if err != nil && fatalAuthCodes[err.Error()] {
		return err.Error()
	}
	return ""
}

func isFatalAuth(err error) bool { return fatalAuthCodes[slackCode(err)] }

// retryDelay says whether err is worth retrying and, for a 429, how long
// Slack asked us to wait (0 means use the backoff).
func retryDelay(err error) (wait time.Duration, retry, rateLimited bool) {
	if rl, ok := errors.AsType[*slack.RateLimitedError](err); ok {
		w := rl.RetryAfter
		if w <= 0 {
			w = time.Second
		}
		return w, true, true
	}
	if sc, ok := errors.AsType[slack.StatusCodeError](err); ok {
		if sc.Code == http.StatusTooManyRequests {
			return time.Second, true, true
		}
		return 0, sc.Code >= 500 || sc.Code == http.StatusRequestTimeout, false
	}
	if code := slackCode(err); code != "" {
		return 0, transientCodes[code], false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return 0, false, false
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return 0, true, false
	}
	// Connection resets and truncated bodies surface as plain errors from
	// the HTTP client; they are transient too.
	return 0, true, false
}

// call runs one Web API call with retries: 429s wait for Retry-After,
// network errors, 5xx and transient Slack errors back off exponentially,
// anything else (channel_not_found, invalid_blocks, …) fails at once.
func (a *Adapter) call(ctx context.Context, what string, fn func(context.Context) error) error {
	backoff := a.cfg.RetryBackoff
	attempts, waits := 0, 0
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		wait, retry, limited := retryDelay(err)
		if limited {
			waits++
			retry = waits <= a.cfg.MaxRateLimitWaits
		} else {
			attempts++
			retry = retry && attempts < a.cfg.MaxAttempts
			wait = backoff
			backoff = min(2*backoff, a.cfg.MaxBackoff)
		}
		if !retry || ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		a.log.Warn("slack call failed, retrying", "call", what, "err", err, "in", wait)
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
