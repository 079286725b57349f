package provider

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/secgpt-go/secgpt/core/llm"
)

// wireServer is a loopback HTTP server that answers one API path with a
// scripted reply and keeps every request it received, so tests can check
// what the real langchaingo client put on the wire.
type wireServer struct {
	*httptest.Server
	path string

	mu      sync.Mutex // guards all following fields
	reqs    []*http.Request
	bodies  [][]byte
	status  int
	reply   string
	blocked chan struct{} // if non-nil, closed when a request arrives; handler then waits for cancel
}

func newWireServer(t *testing.T, path string) *wireServer {
	t.Helper()
	s := &wireServer{path: path, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *wireServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.bodies = append(s.bodies, body)
	status, reply, blocked := s.status, s.reply, s.blocked
	s.blocked = nil
	s.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != s.path {
		http.Error(w, `{"error":{"message":"no such route"}}`, http.StatusNotFound)
		return
	}
	if blocked != nil {
		close(blocked)
		<-r.Context().Done()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, reply)
}

// script sets the next reply.
func (s *wireServer) script(status int, reply string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.reply = status, reply
}

// block makes the next request hang until its client goes away; the
// returned channel is closed once the request has arrived.
func (s *wireServer) block() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked = make(chan struct{})
	return s.blocked
}

// last returns the last request and its JSON body decoded into v.
func (s *wireServer) last(t *testing.T, v any) *http.Request {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		t.Fatal("server received no request")
	}
	if err := json.Unmarshal(s.bodies[len(s.bodies)-1], v); err != nil {
		t.Fatalf("request body is not JSON: %v\n%s", err, s.bodies[len(s.bodies)-1])
	}
	return s.reqs[len(s.reqs)-1]
}

func (s *wireServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// weatherTool is the tool most cases offer.
var weatherTool = llm.Tool{
	Name:        "get_weather",
	Description: "Weather for a city",
	Parameters:  json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`),
}

var timeTool = llm.Tool{Name: "get_time"}

// cancelWhenArrived generates with a context that is cancelled once the
// server holds the request, and returns Generate's error.
func cancelWhenArrived(t *testing.T, s *wireServer, m llm.Model, req *llm.Request) error {
	t.Helper()
	arrived := s.block()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-arrived:
			cancel()
		case <-ctx.Done():
		}
	}()
	resp, err := m.Generate(ctx, req)
	if err == nil {
		t.Fatalf("Generate after cancel = %+v, want error", resp)
	}
	return err
}

// jsonEqual reports whether two JSON texts hold the same value.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("not JSON: %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("not JSON: %s: %v", b, err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}
