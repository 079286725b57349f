package schema

import (
	"encoding/json"
	"testing"
)

func TestValidate(t *testing.T) {
	s, err := Compile(json.RawMessage(`{"type":"object","properties":{"to":{"type":"string","format":"email"},"n":{"type":"integer","maximum":3}},"required":["to"],"additionalProperties":false}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in string
		ok bool
	}{
		{`{"to":"a@b.example"}`, true},
		{`{"to":"a@b.example","n":3}`, true},
		{`{"to":"not an address"}`, false},
		{`{"n":1}`, false},
		{`{"to":"a@b.example","n":4}`, false},
		{`{"to":"a@b.example","extra":1}`, false},
		{`{"to":`, false},
		{`"string"`, false},
	}
	for _, tt := range tests {
		if err := s.Validate(json.RawMessage(tt.in)); (err == nil) != tt.ok {
			t.Errorf("Validate(%s) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func TestCompileRejects(t *testing.T) {
	for _, in := range []string{`{"type":`, `{"type":"nosuchtype"}`, `{"$ref":"http://example.com/x.json"}`, `{"$ref":"file:///etc/passwd"}`} {
		if _, err := Compile(json.RawMessage(in)); err == nil {
			t.Errorf("Compile(%s) succeeded", in)
		}
	}
}
