package server

import (
	"io"
	"net/http"
	"testing"
)

// TestPublicServesOnlyMounted: a public server answers its mounted
// handler and 404 for the internal listener's own paths; it refuses a
// metrics handler.
func TestPublicServesOnlyMounted(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "secret_metric 1\n") })
	if _, err := New(Options{Addr: "127.0.0.1:0", Public: true, Metrics: metrics}); err == nil {
		t.Error("a public server took a metrics handler")
	}
	s, err := New(Options{Addr: "127.0.0.1:0", Public: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Handle("/oauth/google/callback", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "cb") })); err != nil {
		t.Fatal(err)
	}
	if err := s.Handle("/metrics", metrics); err == nil {
		t.Error("a public server mounted /metrics")
	}
	base := start(t, s)
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/oauth/google/callback", 200},
		{"/healthz", 404},
		{"/readyz", 404},
		{"/metrics", 404},
	} {
		if got, _ := get(t, base+tc.path); got != tc.status {
			t.Errorf("GET %s: %d, want %d", tc.path, got, tc.status)
		}
	}
}
