package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/schema"
)

// Sep joins a server's name and a tool's name into a function name, so that
// two servers' tools (or a server's and a built-in app's) never collide.
const Sep = "__"

var fnChars = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// functionName is the app function for tool: "<server>__<tool>", with any
// character a model's tool name may not hold replaced, at most 64 bytes.
func functionName(server, tool string) string {
	n := server + Sep + fnChars.ReplaceAllString(tool, "_")
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

// toolName recovers the server's tool name from a function (the spec keeps
// it in the function's request schema title, set by functions).
func toolName(server string, f apps.Function) string {
	var s struct {
		Tool string `json:"x-mcp-tool"`
	}
	if json.Unmarshal(f.Request, &s) == nil && s.Tool != "" {
		return s.Tool
	}
	return strings.TrimPrefix(f.Name, server+Sep)
}

// functions turns a server's tools into app functions. Each request schema
// is the tool's input schema (it must compile, and be an object schema);
// each response schema is the result envelope with the tool's output
// schema, if any, for its structured part. Effect comes from the
// annotations only when the operator trusts them.
func functions(s Server, tools []*sdk.Tool) ([]apps.Function, error) {
	var out []apps.Function
	seen := map[string]bool{}
	for _, t := range tools {
		name := functionName(s.Name, t.Name)
		if seen[name] || t.Name == "" {
			return nil, fmt.Errorf("mcp %s: tool %q: empty or clashing name", s.Name, t.Name)
		}
		seen[name] = true
		req, err := inputSchema(t)
		if err != nil {
			return nil, fmt.Errorf("mcp %s: tool %q: %w", s.Name, t.Name, err)
		}
		resp, err := responseSchema(t)
		if err != nil {
			return nil, fmt.Errorf("mcp %s: tool %q: %w", s.Name, t.Name, err)
		}
		f := apps.Function{Name: name, Request: req, Response: resp,
			Description: clean(t.Description, maxDescription), Hints: hints(t.Annotations), Effect: DefaultEffect, TextResult: true}
		if s.TrustAnnotations {
			f.Effect = trustedEffect(t.Annotations)
		}
		out = append(out, f)
	}
	return out, nil
}

// inputSchema is the tool's input schema, marked with the tool's name.
func inputSchema(t *sdk.Tool) (json.RawMessage, error) {
	m := map[string]any{}
	if t.InputSchema != nil {
		b, err := json.Marshal(t.InputSchema)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("input schema is not an object: %w", err)
		}
	}
	if ty, ok := m["type"]; ok && ty != "object" {
		return nil, fmt.Errorf("input schema of type %v, want object", ty)
	}
	m["type"] = "object"
	m["x-mcp-tool"] = t.Name
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if _, err := schema.Compile(b); err != nil {
		return nil, fmt.Errorf("input schema: %w", err)
	}
	return b, nil
}

// Result is what an MCP function returns: the text parts, the structured
// content, and notes on what was left out.
type Result struct {
	Text       string          `json:"text"`
	Structured json.RawMessage `json:"structured,omitempty"`
	IsError    bool            `json:"is_error,omitempty"`
	Notes      []string        `json:"notes,omitempty"`
}

// responseSchema is Result's schema, with the tool's output schema (if it
// compiles) for the structured part.
func responseSchema(t *sdk.Tool) (json.RawMessage, error) {
	structured := json.RawMessage(`{}`)
	if t.OutputSchema != nil {
		b, err := json.Marshal(t.OutputSchema)
		if err != nil {
			return nil, err
		}
		if _, err := schema.Compile(b); err != nil {
			return nil, fmt.Errorf("output schema: %w", err)
		}
		structured = b
	}
	return json.RawMessage(`{"type":"object","required":["text"],"properties":{` +
		`"text":{"type":"string"},"structured":` + string(structured) + `,` +
		`"is_error":{"type":"boolean"},"notes":{"type":"array","items":{"type":"string"}}}}`), nil
}

// hints renders a tool's annotations as the server's claim.
func hints(a *sdk.ToolAnnotations) string {
	if a == nil {
		return ""
	}
	var h []string
	if a.ReadOnlyHint {
		h = append(h, "read-only")
	} else {
		if a.DestructiveHint == nil || *a.DestructiveHint {
			h = append(h, "destructive")
		} else {
			h = append(h, "additive")
		}
		if a.IdempotentHint {
			h = append(h, "idempotent")
		}
	}
	if a.OpenWorldHint == nil || *a.OpenWorldHint {
		h = append(h, "open world")
	} else {
		h = append(h, "closed world")
	}
	return "the server says: " + strings.Join(h, ", ")
}

// trustedEffect is the Effect an operator-trusted server's annotations
// give; missing annotations mean the protocol's defaults (destructive,
// open world), so trusting cannot make a silent tool look harmless. A tool
// that may reach the outside world without destroying is "send": what it
// is given may leave.
func trustedEffect(a *sdk.ToolAnnotations) apps.Effect {
	if a == nil {
		return DefaultEffect
	}
	open := a.OpenWorldHint == nil || *a.OpenWorldHint
	switch {
	case a.ReadOnlyHint:
		return apps.EffectRead
	case a.DestructiveHint != nil && !*a.DestructiveHint && !open:
		return apps.EffectWrite
	case a.DestructiveHint != nil && !*a.DestructiveHint:
		return apps.EffectSend
	}
	return DefaultEffect
}

// reader is what convert needs of a session: reading a linked resource
// from the same server.
type reader interface {
	ReadResource(ctx context.Context, p *sdk.ReadResourceParams) (*sdk.ReadResourceResult, error)
}

// convert turns a tool result into a Result: text parts (cleaned), the
// structured content, resource links read through the same server (text
// only), images and audio dropped with a note.
func convert(ctx context.Context, r reader, res *sdk.CallToolResult) (json.RawMessage, error) {
	var out Result
	var text []string
	links := 0
	for _, c := range res.Content {
		switch c := c.(type) {
		case *sdk.TextContent:
			text = append(text, c.Text)
		case *sdk.ImageContent:
			out.Notes = append(out.Notes, fmt.Sprintf("an image (%s) was dropped: SecGPT passes text only", clean(c.MIMEType, 64)))
		case *sdk.AudioContent:
			out.Notes = append(out.Notes, fmt.Sprintf("audio (%s) was dropped: SecGPT passes text only", clean(c.MIMEType, 64)))
		case *sdk.EmbeddedResource:
			if c.Resource != nil && c.Resource.Text != "" {
				text = append(text, c.Resource.Text)
			} else {
				out.Notes = append(out.Notes, "a binary embedded resource was dropped")
			}
		case *sdk.ResourceLink:
			if links >= maxLinks {
				out.Notes = append(out.Notes, "further resource links were not followed")
				continue
			}
			links++
			text = append(text, readLink(ctx, r, c.URI))
		default:
			out.Notes = append(out.Notes, "a content part of an unknown kind was dropped")
		}
	}
	out.Text = clean(strings.Join(text, "\n"), maxText)
	out.IsError = res.IsError
	if res.StructuredContent != nil {
		b, err := json.Marshal(res.StructuredContent)
		if err != nil {
			return nil, fmt.Errorf("structured content: %w", err)
		}
		if len(b) > maxStructured {
			out.Notes = append(out.Notes, fmt.Sprintf("structured content of %d bytes was dropped", len(b)))
		} else {
			out.Structured = cleanJSON(b)
		}
	}
	return json.Marshal(out)
}

// readLink reads a resource link through the same server: a link cannot
// make the client fetch from anywhere else.
func readLink(ctx context.Context, r reader, uri string) string {
	rr, err := r.ReadResource(ctx, &sdk.ReadResourceParams{URI: uri})
	if err != nil {
		return fmt.Sprintf("[resource %s could not be read from this server]", clean(uri, 200))
	}
	var parts []string
	for _, c := range rr.Contents {
		if c.Text != "" {
			parts = append(parts, c.Text)
		} else if len(c.Blob) > 0 {
			parts = append(parts, fmt.Sprintf("[binary resource %s dropped]", clean(c.URI, 200)))
		}
	}
	return strings.Join(parts, "\n")
}

// clean makes third-party text safe to show and to hand a model: valid
// UTF-8, no escape sequences or other control characters (newlines and
// tabs stay), no bidirectional overrides, at most n characters.
func clean(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	count := 0
	for _, r := range s {
		if count >= n {
			b.WriteString("…")
			break
		}
		switch {
		case r == '\n' || r == '\t':
		case r == 0x1b || unicode.IsControl(r):
			continue
		case unicode.Is(unicode.Bidi_Control, r), r == '\u200b', r == '\u2028', r == '\u2029':
			continue
		}
		b.WriteRune(r)
		count++
	}
	return b.String()
}

// cleanJSON cleans every string inside a JSON document.
func cleanJSON(b []byte) json.RawMessage {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return nil
	}
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case string:
			return clean(x, maxText)
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e)
			}
		}
		return v
	}
	out, _ := json.Marshal(walk(v))
	return out
}
