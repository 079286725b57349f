package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/bolt"
)

func TestDecisionsSplitPromptsFromGrants(t *testing.T) {
	m := New()
	m.Decision("exec", "once")
	m.Decision("exec", "once")
	m.Decision("collab", "deny")
	m.Decision("data", "grant:always")
	m.Decision("exec", "grant:session")
	m.Decision("weird\nkind", "maybe") // from a stored field: bounded labels
	for _, tt := range []struct {
		kind, decision string
		want           float64
	}{{"exec", "once", 2}, {"collab", "deny", 1}, {"other", "other", 1}, {"data", "always", 0}} {
		if got := testutil.ToFloat64(m.prompts.WithLabelValues(tt.kind, tt.decision)); got != tt.want {
			t.Errorf("prompts{%s,%s} = %v, want %v", tt.kind, tt.decision, got, tt.want)
		}
	}
	if got := testutil.ToFloat64(m.grantsUsed.WithLabelValues("data")) + testutil.ToFloat64(m.grantsUsed.WithLabelValues("exec")); got != 2 {
		t.Errorf("grants used = %v, want 2", got)
	}
}

func TestKillReason(t *testing.T) {
	for in, want := range map[string]string{
		"wall-clock timeout 3m0s":          "timeout",
		"request cancelled":                "cancelled",
		"memory limit exceeded":            "memory",
		"CPU time limit exceeded":          "cpu",
		"process/thread limit reached":     "procs",
		"forbidden system call (seccomp)":  "seccomp",
		"protocol: frame over 1048576":     "protocol",
		"spawner closed":                   "closed",
		"something an app wrote \x1b[31m!": "error",
		"":                                 "error",
	} {
		if got := KillReason(in); got != want {
			t.Errorf("KillReason(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	m.Message("slack")
	m.Decision("exec", "once")
	m.SpawnDone(time.Millisecond, nil)
	m.SpokeKilled("timeout")
	m.ModelDone(time.Second, nil)
	m.ModelRetry(429, time.Second)
	m.EgressDenied("a")
	m.StoreError("x")
	m.Unaudited("flow")
	var model llm.Model = modelFunc(func(context.Context, *llm.Request) (*llm.Response, error) { return &llm.Response{}, nil })
	if m.Model(model) == nil || m.Store(nil) != nil {
		t.Error("nil Metrics must hand the wrapped value back")
	}
}

type modelFunc func(context.Context, *llm.Request) (*llm.Response, error)

func (f modelFunc) Generate(ctx context.Context, r *llm.Request) (*llm.Response, error) {
	return f(ctx, r)
}

func TestModelAndSpawnerAreTimed(t *testing.T) {
	m := New()
	fail := true
	model := m.Model(modelFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
		if fail {
			return nil, errors.New("boom")
		}
		return &llm.Response{Content: "hi"}, nil
	}))
	if _, err := model.Generate(context.Background(), &llm.Request{}); err == nil {
		t.Fatal("wrapped model hid an error")
	}
	fail = false
	if r, err := model.Generate(context.Background(), &llm.Request{}); err != nil || r.Content != "hi" {
		t.Fatalf("wrapped model = %v, %v", r, err)
	}
	if n := testutil.CollectAndCount(m.modelSeconds); n != 2 {
		t.Errorf("model histogram series = %d, want 2 (ok, error)", n)
	}
	sp := m.Spawner(hub.SpawnerFunc(func(context.Context, hub.SpokeSpec) (hub.Spoke, error) {
		time.Sleep(2 * time.Millisecond)
		return nil, nil
	}))
	_, _ = sp.Start(context.Background(), hub.SpokeSpec{})
	if got := testutil.ToFloat64(m.spokesStarted.WithLabelValues("ok")); got != 1 {
		t.Errorf("spokes started = %v", got)
	}
	body := scrape(t, m)
	if !strings.Contains(body, "secgpt_spawn_seconds_count 1") {
		t.Errorf("spawn histogram missing from /metrics:\n%s", grep(body, "spawn"))
	}
}

// streamFunc is a model that streams its answer as one piece per word.
type streamFunc func(context.Context, *llm.Request) (*llm.Response, error)

func (f streamFunc) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	return f(ctx, req)
}

func (f streamFunc) GenerateStream(ctx context.Context, req *llm.Request, onText func(context.Context, string) error) (*llm.Response, error) {
	resp, err := f(ctx, req)
	if err != nil {
		return nil, err
	}
	for _, w := range strings.SplitAfter(resp.Content, " ") {
		if err := onText(ctx, w); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// TestStreamingModelStillStreams: the timing wrapper keeps a model's
// streaming, and times streamed calls too; a model that cannot stream is
// not made to look as if it could.
func TestStreamingModelStillStreams(t *testing.T) {
	m := New()
	model := m.Model(streamFunc(func(context.Context, *llm.Request) (*llm.Response, error) {
		return &llm.Response{Content: "one two three"}, nil
	}))
	sm, ok := model.(llm.StreamingModel)
	if !ok {
		t.Fatalf("wrapped streaming model %T does not stream", model)
	}
	var pieces []string
	resp, err := sm.GenerateStream(context.Background(), &llm.Request{}, func(_ context.Context, p string) error {
		pieces = append(pieces, p)
		return nil
	})
	if err != nil || resp.Content != "one two three" || len(pieces) != 3 {
		t.Fatalf("GenerateStream = %v, %v; pieces %q", resp, err, pieces)
	}
	if n := testutil.CollectAndCount(m.modelSeconds); n != 1 {
		t.Errorf("model histogram series = %d, want 1", n)
	}
	plain := m.Model(modelFunc(func(context.Context, *llm.Request) (*llm.Response, error) { return &llm.Response{}, nil }))
	if _, ok := plain.(llm.StreamingModel); ok {
		t.Errorf("a model that cannot stream was wrapped as one that can")
	}
}

type nopAssistant struct{ handled int }

func (a *nopAssistant) Handle(context.Context, chat.Message, chat.Conversation) { a.handled++ }
func (a *nopAssistant) Answer(context.Context, chat.Answer) error               { return nil }

func TestAssistantCountsByPlatform(t *testing.T) {
	m := New()
	inner := &nopAssistant{}
	a := m.Assistant(inner)
	for _, u := range []ids.UserID{"slack:T1/U2", "slack:T1/U3", "matrix:@a:b", "terminal:bob", "evil-platform-name:x"} {
		a.Handle(context.Background(), chat.Message{User: u}, nil)
	}
	if inner.handled != 5 {
		t.Errorf("inner assistant handled %d, want 5", inner.handled)
	}
	for p, want := range map[string]float64{"slack": 2, "matrix": 1, "terminal": 1, "other": 1} {
		if got := testutil.ToFloat64(m.messages.WithLabelValues(p)); got != want {
			t.Errorf("messages{%s} = %v, want %v", p, got, want)
		}
	}
	if u, ok := a.(interface{ Unwrap() chat.Assistant }); !ok || u.Unwrap() != inner {
		t.Error("wrapper does not unwrap to the inner assistant")
	}
}

// TestStoreCountsErrorsAndDecisions uses a real bolt store: calls on an
// open store count nothing but the audited decisions; the same calls after
// Close fail and are counted per operation.
func TestStoreCountsErrorsAndDecisions(t *testing.T) {
	ctx := context.Background()
	raw, err := bolt.Open(filepath.Join(t.TempDir(), "s.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := New()
	st := m.Store(raw)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.AppendAudit(ctx, state.AuditEvent{Type: "decision", Kind: chat.KindExec, Decision: "always", App: "a"}))
	must(st.AppendAudit(ctx, state.AuditEvent{Type: "egress_denied", App: "weather", Detail: "evil.example"}))
	if _, err := st.ReadMemory(ctx, "terminal:x", "a", 10); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.GetPending(ctx, "nope"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.storeErrors); n != 0 {
		t.Errorf("store errors counted on a healthy store: %d series", n)
	}
	if got := testutil.ToFloat64(m.prompts.WithLabelValues("exec", "always")); got != 1 {
		t.Errorf("prompts{exec,always} = %v", got)
	}
	if got := testutil.ToFloat64(m.egressDenied.WithLabelValues("weather")); got != 1 {
		t.Errorf("egress denied{weather} = %v", got)
	}
	must(raw.Close())
	_ = st.AppendMemory(ctx, "terminal:x", "a", state.MemoryEntry{Role: "user", Content: "hi"})
	_, _ = st.ListGrants(ctx, "terminal:x")
	_, _ = st.ListGrants(ctx, "terminal:x")
	for op, want := range map[string]float64{"append_memory": 1, "list_grants": 2} {
		if got := testutil.ToFloat64(m.storeErrors.WithLabelValues(op)); got != want {
			t.Errorf("store errors{%s} = %v, want %v", op, got, want)
		}
	}
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestHandlerServesEveryFamily(t *testing.T) {
	m := New()
	m.Message("slack")
	m.Decision("exec", "once")
	m.Decision("exec", "grant:always")
	m.SpawnDone(time.Millisecond, nil)
	m.SpokeKilled("timeout")
	m.ModelDone(time.Second, nil)
	m.ModelRetry(429, 0)
	m.EgressDenied("a")
	m.StoreError("x")
	m.Unaudited("flow")
	m.Unaudited("made-up")
	body := scrape(t, m)
	if !strings.Contains(body, `secgpt_unaudited_total{type="flow"} 1`) || !strings.Contains(body, `secgpt_unaudited_total{type="other"} 1`) {
		t.Errorf("unaudited entries not counted by bounded type:\n%s", body)
	}
	for _, fam := range []string{
		"secgpt_messages_total", "secgpt_prompts_total", "secgpt_grants_used_total", "secgpt_spokes_started_total",
		"secgpt_spokes_killed_total", "secgpt_spawn_seconds_bucket", "secgpt_model_seconds_bucket",
		"secgpt_model_retries_total", "secgpt_egress_denied_total", "secgpt_store_errors_total", "secgpt_unaudited_total", "go_goroutines",
	} {
		if !strings.Contains(body, "\n"+fam) {
			t.Errorf("/metrics lacks %s", fam)
		}
	}
}
