package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/schema"
)

type noReader struct{}

func (noReader) ReadResource(context.Context, *sdk.ReadResourceParams) (*sdk.ReadResourceResult, error) {
	return nil, errors.New("no resources")
}

// FuzzConvert feeds tool results as a server would send them: whatever
// decodes must convert to a Result that fits the response envelope, with
// no escape or control character but newline and tab, and bounded text.
func FuzzConvert(f *testing.F) {
	f.Add([]byte(`{"content":[{"type":"text","text":"hi \u001b[2Jthere"}],"structuredContent":{"a":"\u0007b"}}`))
	f.Add([]byte(`{"content":[{"type":"image","data":"AAAA","mimeType":"image/png"},{"type":"resource_link","uri":"file:///x","name":"x"}],"isError":true}`))
	f.Add([]byte(`{"content":[{"type":"resource","resource":{"uri":"x","text":"\u202eevil"}}]}`))
	env := schema.MustCompile(`{"type":"object","required":["text"],"properties":{"text":{"type":"string"},"structured":{},"is_error":{"type":"boolean"},"notes":{"type":"array","items":{"type":"string"}}}}`)
	f.Fuzz(func(t *testing.T, b []byte) {
		var res sdk.CallToolResult
		if json.Unmarshal(b, &res) != nil {
			return
		}
		out, err := convert(context.Background(), noReader{}, &res)
		if err != nil {
			return
		}
		if err := env.Validate(out); err != nil {
			t.Fatalf("result %s does not fit the envelope: %v", out, err)
		}
		var r Result
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatal(err)
		}
		for _, s := range append([]string{r.Text, string(r.Structured)}, r.Notes...) {
			for _, c := range s {
				if c != '\n' && c != '\t' && (unicode.IsControl(c) || unicode.Is(unicode.Bidi_Control, c)) {
					t.Fatalf("control character %U passed: %q", c, s)
				}
			}
		}
		if n := len([]rune(r.Text)); n > maxText+1 {
			t.Fatalf("text of %d characters", n)
		}
	})
}

// FuzzRecheck feeds specs as a compromised describing spoke could send
// them: what the hub keeps names only this server's functions, has
// schemas that compile, and never carries an effect the operator did not
// allow.
func FuzzRecheck(f *testing.F) {
	f.Add([]byte(`[{"name":"s__t","request":{"type":"object","x-mcp-tool":"t"},"response":{},"effect":"read-only","description":"\u001b[31mx"}]`), false)
	f.Add([]byte(`[{"name":"other__t","request":{"type":"object"},"response":{}}]`), true)
	f.Fuzz(func(t *testing.T, b []byte, trust bool) {
		var fns []apps.Function
		if json.Unmarshal(b, &fns) != nil {
			return
		}
		s := Server{Name: "s", Command: "/bin/true", TrustAnnotations: trust}
		got, err := recheck(s, fns)
		if err != nil {
			return
		}
		for _, fn := range got {
			if !strings.HasPrefix(fn.Name, "s"+Sep) {
				t.Fatalf("function %q kept for server s", fn.Name)
			}
			if !fn.Effect.Valid() || (!trust && fn.Effect != DefaultEffect) {
				t.Fatalf("effect %q kept (trust %v)", fn.Effect, trust)
			}
			if strings.ContainsRune(fn.Description, 0x1b) {
				t.Fatalf("escape kept in %q", fn.Description)
			}
			if _, err := schema.Compile(fn.Request); err != nil {
				t.Fatalf("request schema kept that does not compile: %v", err)
			}
		}
	})
}
