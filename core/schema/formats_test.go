package schema

import (
	"encoding/json"
	"testing"
)

func TestFormats(t *testing.T) {
	tests := []struct {
		schema string
		in     string
		ok     bool
	}{
		{`{"type":"string","format":"email"}`, `"bob@mail.example"`, true},
		{`{"type":"string","format":"email"}`, `"bob@localhost"`, true},
		{`{"type":"string","format":"email"}`, `"Bob <bob@mail.example>"`, false},
		{`{"type":"string","format":"email"}`, `"bob@mail.example\nBcc: eve@evil.example"`, false},
		{`{"type":"string","format":"email"}`, `"no at sign"`, false},
		{`{"format":"email"}`, `42`, true}, // formats apply to strings only
		{`{"type":"string","format":"email","pattern":"example$"}`, `"bob@mail.example"`, true},
		{`{"type":"string","format":"email","pattern":"^x"}`, `"bob@mail.example"`, false},
		{`{"type":"string","format":"date"}`, `"2026-12-01"`, true},
		{`{"type":"string","format":"date"}`, `"2026-13-01"`, false},
		{`{"type":"string","format":"date-time"}`, `"2026-12-01T06:30:00Z"`, true},
		{`{"type":"string","format":"date-time"}`, `"2026-12-01T06:30:00+01:00"`, true},
		{`{"type":"string","format":"date-time"}`, `"tomorrow"`, false},
		{`{"type":"string","format":"uuid"}`, `"123e4567-e89b-12d3-a456-426614174000"`, true},
		{`{"type":"string","format":"uuid"}`, `"123e4567"`, false},
		{`{"type":"string","format":"ipv4"}`, `"192.0.2.1"`, true},
		{`{"type":"string","format":"ipv4"}`, `"256.0.0.1"`, false},
		{`{"type":"string","format":"uri"}`, `"https://example.com/a?b=c"`, true},
		{`{"type":"string","format":"uri"}`, `"not a uri"`, false},
		{`{"type":"string","format":"made-up"}`, `"anything"`, true}, // unknown formats annotate
		// Formats nested under applicators are asserted too.
		{`{"anyOf":[{"type":"string","format":"email"},{"type":"array","items":{"type":"string","format":"email"}}]}`, `["a@b.example","c@d.example"]`, true},
		{`{"anyOf":[{"type":"string","format":"email"},{"type":"array","items":{"type":"string","format":"email"}}]}`, `["a@b.example","nope"]`, false},
		{`{"type":"object","properties":{"to":{"$ref":"#/definitions/addr"}},"definitions":{"addr":{"type":"string","format":"email"}}}`, `{"to":"x"}`, false},
		{`{"type":"object","properties":{"to":{"$ref":"#/$defs/addr"}},"$defs":{"addr":{"type":"string","format":"email"}}}`, `{"to":"a@b.example"}`, true},
		// Dialects: draft-07 (the default) and 2020-12.
		{`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"array","prefixItems":[{"type":"integer"}],"items":false}`, `[1]`, true},
		{`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"array","prefixItems":[{"type":"integer"}],"items":false}`, `[1,2]`, false},
		{`{"type":"array","items":[{"type":"integer"}],"additionalItems":false}`, `[1,"x"]`, false},
	}
	for _, tt := range tests {
		s, err := Compile(json.RawMessage(tt.schema))
		if err != nil {
			t.Errorf("Compile(%s): %v", tt.schema, err)
			continue
		}
		if err := s.Validate(json.RawMessage(tt.in)); (err == nil) != tt.ok {
			t.Errorf("%s: Validate(%s) = %v, want ok=%v", tt.schema, tt.in, err, tt.ok)
		}
	}
}

func TestCompileRejectsDeepSchemas(t *testing.T) {
	deep := `{"type":"string"}`
	for range MaxDepth + 2 {
		deep = `{"not":` + deep + `}`
	}
	if _, err := Compile(json.RawMessage(deep)); err == nil {
		t.Error("Compile accepted a schema nested deeper than MaxDepth")
	}
}
