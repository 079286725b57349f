package connect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ListenLoopback opens the listener of the terminal's flow: Google's
// installed-app ("Desktop") clients may redirect to any port of a loopback
// address, so the browser on the user's own machine comes back to this
// process without a public URL. addr "" means 127.0.0.1 on a free port.
// It returns the redirect URL to put in Config.RedirectURL.
func ListenLoopback(addr string) (net.Listener, string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, "", fmt.Errorf("loopback listener %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, "", fmt.Errorf("loopback listener %q: not a loopback IP address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("loopback listener: %w", err)
	}
	return ln, "http://" + ln.Addr().String() + CallbackPath, nil
}

// Serve serves h at CallbackPath on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	return ServePath(ctx, ln, CallbackPath, h)
}

// ServePath serves h at path on ln until ctx ends.
func ServePath(ctx context.Context, ln net.Listener, path string, h http.Handler) error {
	mux := http.NewServeMux()
	mux.Handle(path, h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	defer stop()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve oauth callback: %w", err)
	}
	return nil
}
