package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/chat"
)

// allowingConversation answers every prompt "once" as the asked user.
type allowingConversation struct {
	a       chat.Assistant
	mu      sync.Mutex
	replies []string
}

func (c *allowingConversation) Reply(_ context.Context, text string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replies = append(c.replies, text)
	return nil
}

func (c *allowingConversation) Prompt(ctx context.Context, p chat.Prompt) error {
	go func() {
		_ = c.a.Answer(context.WithoutCancel(ctx), chat.Answer{Prompt: p.ID, Nonce: p.Nonce, User: p.User, Decision: chat.AllowOnce})
	}()
	return nil
}

// TestListenerServesHealthReadinessAndMetrics builds the real deployment
// with server.listen set, runs one message through the hub (a prompt, a
// spoke) and reads the counters back from /metrics.
func TestListenerServesHealthReadinessAndMetrics(t *testing.T) {
	cfg := config.Default()
	cfg.Store.Path = filepath.Join(t.TempDir(), "secgpt.db")
	cfg.Server.Listen = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := build(ctx, cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Server == nil || d.listener == nil {
		t.Fatal("server.listen set but no listener")
	}
	base := "http://" + d.listener.Addr().String()
	mounted := d.Server.Handle("/oauth/callback", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "cb") }))
	if mounted != nil {
		t.Fatal(mounted)
	}
	go func() { _ = d.Run(ctx) }()

	conv := &allowingConversation{a: d.Assistant}
	hctx, hcancel := context.WithTimeout(ctx, time.Minute)
	defer hcancel()
	d.Assistant.Handle(hctx, chat.Message{User: "terminal:alice", Conversation: "terminal:alice", Text: "quick_ride fare from 'Main Street' to 'Elm Avenue'"}, conv)
	if len(conv.replies) == 0 || !strings.Contains(strings.Join(conv.replies, "\n"), "$57.00") {
		t.Fatalf("replies = %q, want the fare", conv.replies)
	}

	for _, tt := range []struct {
		path   string
		status int
		want   []string
	}{
		{"/healthz", 200, []string{"ok"}},
		{"/readyz", 200, []string{`"store":"ok"`}},
		{"/oauth/callback", 200, []string{"cb"}},
		{"/metrics", 200, []string{
			`secgpt_messages_total{platform="terminal"} 1`,
			`secgpt_prompts_total{decision="once",kind="exec"}`,
			`secgpt_spokes_started_total{result="ok"}`,
			`secgpt_spawn_seconds_count`,
			`secgpt_model_seconds_count{result="ok"}`,
			`secgpt_build_info{goversion="go`,
		}},
	} {
		resp, err := http.Get(base + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("GET %s = %d, want %d", tt.path, resp.StatusCode, tt.status)
		}
		for _, w := range tt.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("GET %s lacks %q", tt.path, w)
			}
		}
	}
}

// TestListenerOffByDefault: no server.listen, no port and no wrappers.
func TestListenerOffByDefault(t *testing.T) {
	cfg := config.Default()
	cfg.Store.Path = filepath.Join(t.TempDir(), "secgpt.db")
	d, err := build(context.Background(), cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Server != nil || d.listener != nil || d.metrics != nil {
		t.Errorf("listener on without server.listen: %+v", d.Server)
	}
}

// TestListenerTakenPortFailsAtStart: the port is bound in build.
func TestListenerTakenPortFailsAtStart(t *testing.T) {
	cfg := config.Default()
	cfg.Store.Path = filepath.Join(t.TempDir(), "a.db")
	cfg.Server.Listen = "127.0.0.1:0"
	d, err := build(context.Background(), cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cfg.Store.Path = filepath.Join(t.TempDir(), "b.db")
	cfg.Server.Listen = d.listener.Addr().String()
	d2, err := build(context.Background(), cfg, discardLogger())
	if err == nil {
		d2.Close()
		t.Fatal("second build on a taken port succeeded")
	}
	if !strings.Contains(err.Error(), "server.listen") {
		t.Errorf("error %v does not name server.listen", err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestHealthcheckCommand(t *testing.T) {
	cfg := config.Default()
	cfg.Store.Path = filepath.Join(t.TempDir(), "secgpt.db")
	cfg.Server.Listen = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := build(ctx, cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	addr := d.listener.Addr().String()
	go func() { _ = d.Run(ctx) }()
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
	}{
		{"healthy", map[string]string{"SECGPT_LISTEN": addr}, []string{"healthcheck"}, 0},
		{"ready", map[string]string{"SECGPT_LISTEN": addr}, []string{"healthcheck", "--ready"}, 0},
		{"nothing listening", map[string]string{"SECGPT_LISTEN": "127.0.0.1:1"}, []string{"healthcheck", "--timeout", "1s"}, 1},
		{"no listener configured", nil, []string{"healthcheck"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "", tt.env, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.wantCode, out, errOut)
			}
		})
	}
	for in, want := range map[string]string{":9090": "127.0.0.1:9090", "0.0.0.0:80": "127.0.0.1:80", "[::]:9090": "[::1]:9090", "10.0.0.1:9": "10.0.0.1:9"} {
		if got := localAddr(in); got != want {
			t.Errorf("localAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
