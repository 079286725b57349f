// Package server is the bot's optional HTTP listeners. The internal one
// (config server.listen) serves /healthz (the process serves), /readyz
// (every readiness check passes: store reachable, platform connected) and
// /metrics, none of them authenticated. The public one (server.public_listen,
// Options.Public) serves only what another part of the bot mounts by path,
// such as the OAuth callback, which the internet must reach.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// PublicError is a check's error with a reason /readyz may show: no
// hosts, paths or secrets (an MCP server's "command \"node\" not found").
// Other errors show as "not ready" alone; the log has them.
type PublicError interface {
	error
	Public() string
}

// Check reports whether one dependency is ready; a nil error means ready.
type Check func(ctx context.Context) error

// checkTimeout bounds each readiness check, so a hung store makes /readyz
// answer 503 rather than hang the prober.
const checkTimeout = 2 * time.Second

// Options configure a Server.
type Options struct {
	// Addr is the listen address, e.g. "127.0.0.1:9090" or ":9090".
	Addr string
	// Metrics serves /metrics; nil leaves the path unmounted.
	Metrics http.Handler
	// Public makes a listener for the internet: it serves only mounted
	// handlers, never /healthz, /readyz or /metrics (Metrics must be nil).
	Public bool
	// Logger; nil discards.
	Logger *slog.Logger
}

// Server is the listener. Mount handlers and readiness checks before Run.
type Server struct {
	o   Options
	log *slog.Logger
	mux *http.ServeMux

	mu      sync.Mutex // guards the fields below
	paths   map[string]bool
	checks  map[string]Check
	running bool
}

// reserved paths are the server's own.
var reserved = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// New returns a Server for o. It does not listen yet.
func New(o Options) (*Server, error) {
	if strings.TrimSpace(o.Addr) == "" {
		return nil, errors.New("server: listen address is empty (set server.listen, e.g. 127.0.0.1:9090)")
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return nil, fmt.Errorf("server: listen address %q is not host:port: %w", o.Addr, err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{o: o, log: log, mux: http.NewServeMux(), paths: map[string]bool{}, checks: map[string]Check{}}
	if o.Public {
		if o.Metrics != nil {
			return nil, errors.New("server: a public listener does not serve /metrics")
		}
		return s, nil
	}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if o.Metrics != nil {
		s.mux.Handle("GET /metrics", o.Metrics)
	}
	return s, nil
}

// Handle mounts h at path (a ServeMux pattern without method, e.g.
// "/oauth/callback" or "/oauth/" for a subtree). It fails for the server's
// own paths, a path mounted twice, or after Run started.
func (s *Server) Handle(path string, h http.Handler) error {
	if h == nil || !strings.HasPrefix(path, "/") {
		return fmt.Errorf("server: mount %q: want a path starting with / and a handler", path)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return fmt.Errorf("server: mount %s: the server is already running", path)
	}
	if reserved[path] || s.paths[path] {
		return fmt.Errorf("server: mount %s: path already in use", path)
	}
	s.paths[path] = true
	s.mux.Handle(path, h)
	return nil
}

// AddCheck adds a readiness check under name ("store", "slack"). A public
// server keeps it but serves no /readyz.
func (s *Server) AddCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = c
}

// Handler is the server's mux, for tests and for embedding.
func (s *Server) Handler() http.Handler { return s.mux }

// Run listens on Options.Addr and serves until ctx ends, then shuts down
// gracefully (5 s). It returns an error when the address cannot be bound.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.o.Addr)
	if err != nil {
		return fmt.Errorf("server: listen on %s: %w", s.o.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	s.running = true
	s.mu.Unlock()
	hs := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.log.Info("http listener", "addr", ln.Addr().String(), "public", s.o.Public)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("server: shut down: %w", err)
	}
	<-errc
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz runs every check concurrently and answers 200 when all pass, 503
// otherwise, with a JSON body naming each check's state. Error texts are
// not echoed: they may name hosts or paths; the log has them.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	checks := make(map[string]Check, len(s.checks))
	for n, c := range s.checks {
		checks[n] = c
	}
	s.mu.Unlock()
	sort.Strings(names)
	results := make([]string, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
			defer cancel()
			if err := checks[n](ctx); err != nil {
				s.log.Warn("not ready", "check", n, "err", err)
				results[i] = "not ready"
				var pe PublicError
				if errors.As(err, &pe) {
					results[i] += ": " + pe.Public()
				}
				return
			}
			results[i] = "ok"
		}()
	}
	wg.Wait()
	body := map[string]string{}
	status := http.StatusOK
	for i, n := range names {
		body[n] = results[i]
		if results[i] != "ok" {
			status = http.StatusServiceUnavailable
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
