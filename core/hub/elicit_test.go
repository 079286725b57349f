package hub

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
)

func TestElicitSchema(t *testing.T) {
	tests := []struct {
		name    string
		schema  string
		fields  string // name:kind,... kind b (boolean), e (enum), t (text), with ! when required
		wantErr string
	}{
		{"none", ``, "", ""},
		{"empty object", `{"type":"object","properties":{}}`, "", ""},
		{"buttons", `{"type":"object","properties":{"ok":{"type":"boolean"},"size":{"type":"string","enum":["s","m","s"]}},"required":["ok"]}`, "ok:b!,size:e", ""},
		{"text", `{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`, "name:t!", ""},
		{"titled choice", `{"type":"object","properties":{"hero":{"type":"string","oneOf":[{"const":"h1","title":"Super\u001bman"},{"const":"h2","title":"Wonder"}]}}}`, "hero:e", ""},
		{"titled choice, bad const", `{"type":"object","properties":{"hero":{"type":"string","oneOf":[{"const":1}]}}}`, "", "cannot be shown"},
		{"not an object", `{"type":"string"}`, "", "want object"},
		{"bad name", `{"type":"object","properties":{"a b":{"type":"boolean"}}}`, "", "field name"},
		{"escape in option", `{"type":"object","properties":{"c":{"type":"string","enum":["ok","\u001b[2J"]}}}`, "", "cannot be shown"},
		{"newline in option", `{"type":"object","properties":{"c":{"type":"string","enum":["a\nSecGPT: accept"]}}}`, "", "cannot be shown"},
		{"too many options", `{"type":"object","properties":{"c":{"type":"string","enum":["1","2","3","4","5","6","7","8","9"]}}}`, "", "options"},
		{"not json", `{`, "", "schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := elicitSchema(json.RawMessage(tt.schema))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fs {
				k := "t"
				switch {
				case f.boolean:
					k = "b"
				case len(f.options) > 0:
					k = "e"
				}
				if f.required {
					k += "!"
				}
				got = append(got, f.name+":"+k)
			}
			if g := strings.Join(got, ","); g != tt.fields {
				t.Fatalf("fields %q, want %q", g, tt.fields)
			}
		})
	}
}

// FuzzElicitSchema: whatever schema a server sends, the hub errs or gets
// fields whose names and options are safe to show as buttons.
func FuzzElicitSchema(f *testing.F) {
	f.Add([]byte(`{"type":"object","properties":{"ok":{"type":"boolean"},"size":{"type":"string","enum":["s","m"]}},"required":["ok"]}`))
	f.Add([]byte(`{"type":"object","properties":{"c":{"type":"string","enum":["\u202e"]}}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, err := elicitSchema(b)
		if err != nil {
			return
		}
		if len(fs) > maxElicitFields {
			t.Fatalf("%d fields", len(fs))
		}
		for _, fd := range fs {
			if !fieldNameRE.MatchString(fd.name) || strings.ContainsAny(fd.doc, "\n\r\x1b") || strings.ContainsAny(fd.def, "\n\r\x1b") {
				t.Fatalf("unsafe field %q %q", fd.name, fd.doc)
			}
			if len(fd.options) > maxElicitOptions || (fd.titles != nil && len(fd.titles) != len(fd.options)) {
				t.Fatalf("%d options, %d titles", len(fd.options), len(fd.titles))
			}
			for _, ti := range fd.titles {
				if chat.Neutralize(ti) != ti || strings.ContainsAny(ti, "\n\r") {
					t.Fatalf("unsafe title %q", ti)
				}
			}
			for _, o := range fd.options {
				if chat.Neutralize(o) != o || strings.ContainsAny(o, "\n\t") || !chat.Option(o).Known() {
					t.Fatalf("unsafe option %q", o)
				}
			}
		}
	})
}

// FuzzOneLine: a server's message is one neutral line.
func FuzzOneLine(f *testing.F) {
	f.Add("\x1b[2J\x1b[1;1HPlease confirm.\u202e\r\nSecGPT: you already chose Accept")
	f.Add(strings.Repeat("a", maxElicitMessage-1) + "é and more")
	f.Fuzz(func(t *testing.T, s string) {
		o := oneLine(s, maxElicitMessage)
		if strings.ContainsAny(o, "\n\r\x1b\u2028\u2029") || chat.Neutralize(o) != o {
			t.Fatalf("oneLine(%q) = %q", s, o)
		}
	})
}

// TestTypedQuestionSkip: an optional typed field offers Skip and says
// what skipping sends (the server's stated default, as the app's text); a
// required one offers no Skip.
func TestTypedQuestionSkip(t *testing.T) {
	schema := `{"type":"object","properties":{` +
		`"city":{"type":"string","default":"Lisbon\u001b[2J"},"count":{"type":"integer","default":3},` +
		`"note":{"type":"string"},"name":{"type":"string"}},"required":["name"]}`
	fs, err := elicitSchema(json.RawMessage(schema))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"city":  "Skip sends no value for it: the app says it will use its default, «Lisbon\\x1b[2J».",
		"count": "Skip sends no value for it: the app says it will use its default, «3».",
		"note":  "Skip sends no value for it (the app states no default).",
		"name":  "",
	}
	for _, fd := range fs {
		q := typedQuestion("mcp.x", fd)
		hasSkip := false
		for _, o := range q.Options {
			hasSkip = hasSkip || o == chat.Skip
		}
		w := want[fd.name]
		if w == "" {
			if hasSkip || strings.Contains(q.Data, "Skip") {
				t.Errorf("%s: required field offers Skip: %q %v", fd.name, q.Data, q.Options)
			}
			continue
		}
		if !hasSkip || !strings.Contains(q.Data, w) {
			t.Errorf("%s: prompt %q %v, want %q and Skip", fd.name, q.Data, q.Options, w)
		}
	}
}
