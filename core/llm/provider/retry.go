package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Retry bounds for one Generate call. langchaingo v0.1.14's OpenAI and
// Anthropic clients send each request once and turn every non-2xx answer
// into an error, so retrying has to happen below them, at the HTTP layer.
const (
	// DefaultRetries is how many times a failed request is sent again when
	// Config.Retries is zero.
	DefaultRetries = 3
	// retryBaseDelay is the first backoff; each later one doubles, with
	// jitter, up to retryMaxDelay.
	retryBaseDelay = 500 * time.Millisecond
	retryMaxDelay  = 20 * time.Second
	// maxRetryBody bounds how much of a failed answer is read (to reuse the
	// connection) before it is dropped.
	maxRetryBody = 64 << 10
)

// retryDoer sends a request again after 429, 5xx and connection errors,
// waiting as long as the server's Retry-After asks (or an exponential
// backoff when it does not say), and never past the request context's
// deadline: the call's timeout bounds all attempts together.
type retryDoer struct {
	next    *http.Client
	retries int // extra attempts after the first; 0 sends once
	// wait sleeps for d or until ctx ends; tests replace it to record the
	// delays without spending them.
	wait func(ctx context.Context, d time.Duration) error
	// onRetry, if non-nil, is told about each retry (status 0 for a
	// connection error), for metrics and logs.
	onRetry func(status int, delay time.Duration)
}

func newRetryDoer(hc *http.Client, retries int, onRetry func(int, time.Duration)) *retryDoer {
	return &retryDoer{next: hc, retries: retries, wait: sleepCtx, onRetry: onRetry}
}

// Do implements the langchaingo clients' Doer.
func (d *retryDoer) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if d.retries > 0 && req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		// langchaingo's clients build bodies from bytes.Reader, so GetBody
		// is set; the AWS SDK's is a stream. Keep a copy to replay.
		if err := bufferBody(req); err != nil {
			return nil, err
		}
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	for attempt := 0; ; attempt++ {
		r := req
		if attempt > 0 {
			r = req.Clone(ctx)
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, fmt.Errorf("replay request body: %w", err)
				}
				r.Body = body
			}
		}
		resp, err := d.next.Do(r)
		if attempt >= d.retries || !replayable || ctx.Err() != nil {
			return resp, err
		}
		status := 0
		if err == nil {
			status = resp.StatusCode
			if !retryableStatus(status) {
				return resp, nil
			}
		} else if !retryableErr(err) {
			return nil, err
		}
		delay := backoff(attempt)
		if resp != nil {
			if ra, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				delay = ra
			}
		}
		// A wait that would outlast the call's deadline cannot end in a
		// success: hand back this answer now rather than a timeout later.
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxRetryBody))
			resp.Body.Close()
		}
		if d.onRetry != nil {
			d.onRetry(status, delay)
		}
		if werr := d.wait(ctx, delay); werr != nil {
			return nil, werr
		}
	}
}

// maxReplayBody bounds the copy of a request body kept for retries; a
// model request is a conversation, far below this.
const maxReplayBody = 32 << 20

// bufferBody reads req's body into memory and sets GetBody; a body over
// maxReplayBody is left as a one-shot stream (sent once, not retried).
func bufferBody(req *http.Request) error {
	b, err := io.ReadAll(io.LimitReader(req.Body, maxReplayBody+1))
	if err != nil {
		req.Body.Close()
		return fmt.Errorf("read request body: %w", err)
	}
	if len(b) > maxReplayBody {
		req.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), req.Body), req.Body}
		return nil
	}
	req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return nil
}

// retryableStatus: rate limits, overload (Anthropic's 529) and server
// errors may pass; 501 (not implemented) will not.
func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusRequestTimeout ||
		(code >= 500 && code != http.StatusNotImplemented)
}

// retryableErr: a failure to reach or hear from the server, not one of our
// own context or of building the request.
func retryableErr(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	// http.Client reports a bad URL or an unsupported scheme this way;
	// sending again cannot help.
	msg := err.Error()
	return !strings.Contains(msg, "unsupported protocol scheme") && !strings.Contains(msg, "no Host in request URL")
}

// backoff is the delay before retry attempt+1: base·2^attempt with "full
// jitter" in its upper half, capped.
func backoff(attempt int) time.Duration {
	d := retryBaseDelay << min(attempt, 10)
	if d > retryMaxDelay || d <= 0 {
		d = retryMaxDelay
	}
	half := d / 2
	return half + rand.N(half+1)
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// A negative or unparsable value is ignored.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > int64(24*time.Hour/time.Second) {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
