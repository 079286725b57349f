package matrix_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// retryAfterMS is what the proxy's injected rate limits ask the bot to wait.
const retryAfterMS = 150

// faultProxy forwards to a real homeserver and, on request, fails the next
// /sync calls with 502 or answers the next message sends with
// M_LIMIT_EXCEEDED, so the bot's backoff runs against real traffic.
type faultProxy struct {
	URL        string
	failSyncs  atomic.Int32 // next /sync requests to fail
	limitSends atomic.Int32 // next PUT .../send/... requests to rate-limit
	limited    atomic.Int32 // sends rate-limited so far

	mu          sync.Mutex // guards firstLimit and retried
	firstLimit  time.Time
	retriedSend time.Time
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	px := &faultProxy{}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isSend := r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/send/m.room.message/")
		switch {
		case strings.HasSuffix(r.URL.Path, "/sync") && px.failSyncs.Load() > 0:
			px.failSyncs.Add(-1)
			http.Error(w, "injected gateway error", http.StatusBadGateway)
			return
		case isSend && px.limitSends.Load() > 0:
			px.limitSends.Add(-1)
			px.mu.Lock()
			if px.limited.Add(1) == 1 {
				px.firstLimit = time.Now()
			}
			px.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"errcode":"M_LIMIT_EXCEEDED","error":"injected","retry_after_ms":150}`))
			return
		case isSend && px.limited.Load() > 0:
			px.mu.Lock()
			if px.retriedSend.IsZero() {
				px.retriedSend = time.Now()
			}
			px.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	px.URL = s.URL
	return px
}

// sinceLimited is the time from the first rate limit to the send that got through.
func (px *faultProxy) sinceLimited() time.Duration {
	px.mu.Lock()
	defer px.mu.Unlock()
	return px.retriedSend.Sub(px.firstLimit)
}
