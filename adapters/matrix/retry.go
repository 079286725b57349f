package matrix

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"maunium.net/go/mautrix"
)

// maxAttempts bounds how often one request is retried; a homeserver that keeps
// refusing gets the error back after roughly RetryMax*maxAttempts at worst.
const maxAttempts = 6

// retryAfter reports whether err is worth retrying and how long to wait first.
// Rate limits (M_LIMIT_EXCEEDED / HTTP 429) wait what the server asks
// (retry_after_ms in the body or a Retry-After header) or else the backoff;
// gateway errors and network failures wait the backoff; anything else, such
// as M_FORBIDDEN, is final.
func retryAfter(err error, backoff time.Duration) (time.Duration, bool) {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return 0, false
	}
	status := 0
	var header http.Header
	var he mautrix.HTTPError
	if errors.As(err, &he) {
		if he.Response == nil {
			return backoff, true // the request never got an answer
		}
		status, header = he.Response.StatusCode, he.Response.Header
	}
	var re mautrix.RespError
	isResp := errors.As(err, &re)
	if isResp && status == 0 {
		status = re.StatusCode
	}
	if (isResp && re.ErrCode == mautrix.MLimitExceeded.ErrCode) || status == http.StatusTooManyRequests {
		if ms, ok := re.ExtraData["retry_after_ms"].(float64); ok && ms > 0 {
			return time.Duration(ms) * time.Millisecond, true
		}
		if s, err := strconv.Atoi(header.Get("Retry-After")); err == nil && s > 0 {
			return time.Duration(s) * time.Second, true
		}
		return backoff, true
	}
	switch status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return backoff, true
	}
	return 0, false
}

// retry runs fn until it succeeds, fails for good, ctx ends or maxAttempts
// are used up. Waits honour the server's retry_after_ms, capped at max.
func retry(ctx context.Context, base, maxWait time.Duration, fn func(context.Context) error) error {
	backoff := base
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		wait, ok := retryAfter(err, backoff)
		if !ok || attempt == maxAttempts {
			return err
		}
		wait = min(wait, maxWait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		backoff = min(backoff*2, maxWait)
	}
}
