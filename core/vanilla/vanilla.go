// Package vanilla is VanillaGPT, the non-isolated baseline of the original
// SecGPT: one LLM context that sees every installed app's tools and
// annotations and the user's whole conversation, and runs every app in the
// assistant's own process without asking. It exists to be compared with the
// hub; it is deliberately unsafe.
//
// Only cli/ wiring, evaluation/ and tests import it.
package vanilla

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/llm"
	"github.com/secgpt-go/secgpt/core/state"
)

// memoryApp is the key under which VanillaGPT keeps its one shared memory.
const memoryApp ids.AppID = "vanillagpt"

// Options configure VanillaGPT.
type Options struct {
	Store     state.Store
	Catalog   *apps.Catalog
	Model     llm.Model
	AppConfig map[ids.AppID]json.RawMessage
	MaxSteps  int
	Logger    *slog.Logger
	// Trace, if set, sees every model request (the evaluation reads contexts).
	Trace func(req *llm.Request)
	Now   func() time.Time
}

// Vanilla is the baseline assistant. It implements chat.Assistant.
type Vanilla struct {
	o Options
}

// New returns a VanillaGPT.
func New(o Options) (*Vanilla, error) {
	if o.Store == nil || o.Catalog == nil || o.Model == nil {
		return nil, fmt.Errorf("vanilla: store, catalog and model are required")
	}
	if o.MaxSteps <= 0 {
		o.MaxSteps = 8
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Vanilla{o: o}, nil
}

// Answer implements chat.Assistant; VanillaGPT never prompts.
func (v *Vanilla) Answer(context.Context, chat.Answer) error { return chat.ErrUnknownPrompt }

// Handle answers one message in the single shared context.
func (v *Vanilla) Handle(ctx context.Context, m chat.Message, c chat.Conversation) {
	c = chat.Neutral(c) // the baseline is unsafe by design, but not on screen
	text := strings.TrimSpace(m.Text)
	if text == "" {
		return
	}
	reply, err := v.run(ctx, m.User, text)
	if err != nil {
		v.o.Logger.Warn("vanillagpt", "err", err)
		reply = "Sorry, that failed: " + err.Error()
	}
	if err := c.Reply(ctx, reply); err != nil {
		v.o.Logger.Error("post reply", "err", err)
	}
}

func (v *Vanilla) run(ctx context.Context, user ids.UserID, text string) (string, error) {
	var sys strings.Builder
	sys.WriteString("You are VanillaGPT, a helpful assistant with these apps as tools.\n")
	var tools []llm.Tool
	for _, id := range v.o.Catalog.IDs() {
		a, _ := v.o.Catalog.App(id)
		sp := a.Spec()
		if sp.Annotation != "" {
			sys.WriteString(sp.Annotation + "\n")
		}
		for _, f := range sp.Functions {
			tools = append(tools, llm.Tool{Name: f.Name, Description: strings.TrimSpace(sp.Description + " " + f.Description), Parameters: f.Request})
		}
	}
	msgs := []llm.Message{{Role: llm.RoleSystem, Content: sys.String()}}
	mem, err := v.o.Store.ReadMemory(ctx, user, memoryApp, 50)
	if err != nil {
		return "", fmt.Errorf("read memory: %w", err)
	}
	for _, e := range mem {
		role := llm.RoleUser
		if e.Role == "assistant" {
			role = llm.RoleAssistant
		}
		msgs = append(msgs, llm.Message{Role: role, Content: e.Content})
	}
	msgs = append(msgs, llm.Message{Role: llm.RoleUser, Content: text})
	env := &directEnv{store: v.o.Store, user: user}
	for i := 0; i < v.o.MaxSteps; i++ {
		req := &llm.Request{Messages: msgs, Tools: tools}
		if v.o.Trace != nil {
			v.o.Trace(req)
		}
		resp, err := v.o.Model.Generate(ctx, req)
		if err != nil {
			return "", fmt.Errorf("model: %w", err)
		}
		if len(resp.ToolCalls) == 0 {
			now := v.o.Now()
			if err := v.o.Store.AppendMemory(ctx, user, memoryApp,
				state.MemoryEntry{Role: "user", Content: text, At: now},
				state.MemoryEntry{Role: "assistant", Content: resp.Content, At: now}); err != nil {
				v.o.Logger.Error("append memory", "err", err)
			}
			return resp.Content, nil
		}
		msgs = append(msgs, llm.Message{Role: llm.RoleAssistant, Content: resp.Content, ToolCalls: resp.ToolCalls})
		for _, call := range resp.ToolCalls {
			out := v.call(ctx, env, call)
			msgs = append(msgs, llm.Message{Role: llm.RoleTool, ToolCallID: call.ID, Name: call.Name, Content: out})
		}
	}
	return "", fmt.Errorf("no answer within %d steps", v.o.MaxSteps)
}

func (v *Vanilla) call(ctx context.Context, env *directEnv, c llm.ToolCall) string {
	a, _, ok := v.o.Catalog.ByFunction(c.Name)
	if !ok {
		return "error: no such tool " + c.Name
	}
	env.app = a.Spec()
	env.config = v.o.AppConfig[a.Spec().ID]
	res, err := a.Call(ctx, env, c.Name, c.Arguments)
	if err != nil {
		return "error: " + err.Error()
	}
	var s string
	if json.Unmarshal(res, &s) == nil {
		return s
	}
	return string(res)
}

// directEnv gives apps the store directly, as a non-isolated system does.
type directEnv struct {
	store  state.Store
	user   ids.UserID
	app    apps.Spec
	config json.RawMessage
}

func (e *directEnv) User() ids.UserID { return e.user }
func (e *directEnv) GetState(ctx context.Context, key string) (json.RawMessage, bool, error) {
	return e.store.GetAppState(ctx, e.user, e.app.Namespace(), key)
}
func (e *directEnv) PutState(ctx context.Context, key string, value json.RawMessage) error {
	return e.store.PutAppState(ctx, e.user, e.app.Namespace(), key, value)
}
func (e *directEnv) Config() json.RawMessage  { return e.config }
func (e *directEnv) HTTPClient() *http.Client { return http.DefaultClient }

var (
	_ chat.Assistant = (*Vanilla)(nil)
	_ apps.Env       = (*directEnv)(nil)
)
