package matrix_test

import (
	"bytes"
	"fmt"
	"io"
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

// faultProxy forwards to a real homeserver and injects faults on request:
// failed syncs (502), rate-limited syncs and sends (M_LIMIT_EXCEEDED with
// retry_after_ms), and a sync response delivered twice. The bot's backoff
// and deduplication thus run against real traffic.
type faultProxy struct {
	URL        string
	down       atomic.Int32 // next requests of any kind to fail with 502
	failSyncs  atomic.Int32 // next /sync requests to fail with 502
	limitSyncs atomic.Int32 // next /sync requests to rate-limit
	limitSends atomic.Int32 // next PUT .../send/m.room.message/... requests to rate-limit
	slowSends  atomic.Int32 // next such requests: forwarded at once, answered 2 s later
	limited    atomic.Int32 // sends rate-limited so far
	replayed   atomic.Int32 // sync responses delivered a second time

	mu sync.Mutex // guards all following fields
	// firstLimit is when the first send was rate-limited, retriedSend when a
	// send next got through.
	firstLimit, retriedSend time.Time
	// syncLimitedAt is when a sync was last rate-limited, syncAfterLimit
	// when the next sync request came.
	syncLimitedAt, syncAfterLimit time.Time
	// dupMarker arms the replay: the first sync response containing it is
	// kept in dup and served again for the next sync request.
	dupMarker string
	dup       []byte
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	px := &faultProxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Header.Del("Accept-Encoding") // keep bodies readable for ModifyResponse
		},
		ModifyResponse: func(res *http.Response) error {
			r := res.Request
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/send/m.room.message/") && px.slowSends.Load() > 0 {
				// The server has the event; its sender learns so late.
				px.slowSends.Add(-1)
				time.Sleep(2 * time.Second)
			}
			return px.captureDuplicate(res)
		},
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isSync := strings.HasSuffix(r.URL.Path, "/sync")
		isSend := r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/send/m.room.message/")
		now := time.Now()
		px.mu.Lock()
		if isSync && !px.syncLimitedAt.IsZero() && px.syncAfterLimit.IsZero() {
			px.syncAfterLimit = now
		}
		if isSend && px.limited.Load() > 0 && px.retriedSend.IsZero() && px.limitSends.Load() == 0 {
			px.retriedSend = now
		}
		dup := isSync && px.dup != nil
		body := px.dup
		if dup {
			px.dup = nil
		}
		px.mu.Unlock()
		switch {
		case px.down.Load() > 0:
			px.down.Add(-1)
			http.Error(w, "injected outage", http.StatusBadGateway)
		case dup:
			px.replayed.Add(1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		case isSync && px.failSyncs.Load() > 0:
			px.failSyncs.Add(-1)
			http.Error(w, "injected gateway error", http.StatusBadGateway)
		case isSync && px.limitSyncs.Load() > 0:
			px.limitSyncs.Add(-1)
			px.mu.Lock()
			px.syncLimitedAt, px.syncAfterLimit = now, time.Time{}
			px.mu.Unlock()
			limitExceeded(w)
		case isSend && px.limitSends.Load() > 0:
			px.limitSends.Add(-1)
			px.mu.Lock()
			if px.limited.Add(1) == 1 {
				px.firstLimit = now
			}
			px.mu.Unlock()
			limitExceeded(w)
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(s.Close)
	px.URL = s.URL
	return px
}

func limitExceeded(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	fmt.Fprintf(w, `{"errcode":"M_LIMIT_EXCEEDED","error":"injected","retry_after_ms":%d}`, retryAfterMS)
}

// duplicateNext arms the replay of the first sync response containing marker.
func (px *faultProxy) duplicateNext(marker string) {
	px.mu.Lock()
	px.dupMarker = marker
	px.mu.Unlock()
}

func (px *faultProxy) captureDuplicate(res *http.Response) error {
	if !strings.HasSuffix(res.Request.URL.Path, "/sync") || res.StatusCode != http.StatusOK {
		return nil
	}
	px.mu.Lock()
	defer px.mu.Unlock()
	if px.dupMarker == "" {
		return nil
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	if bytes.Contains(body, []byte(px.dupMarker)) {
		px.dup, px.dupMarker = body, ""
	}
	return nil
}

// sinceLimited is the time from the first rate-limited send to the send that got through.
func (px *faultProxy) sinceLimited() time.Duration {
	px.mu.Lock()
	defer px.mu.Unlock()
	return px.retriedSend.Sub(px.firstLimit)
}

// syncPause is the time from the last rate-limited sync to the next sync request.
func (px *faultProxy) syncPause() time.Duration {
	px.mu.Lock()
	defer px.mu.Unlock()
	return px.syncAfterLimit.Sub(px.syncLimitedAt)
}
