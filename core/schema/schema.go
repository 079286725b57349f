// Package schema compiles and applies the JSON Schemas of app requests and
// responses and of the planner's plan, using santhosh-tekuri/jsonschema.
package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Schema is a compiled JSON Schema, safe for concurrent use.
type Schema struct {
	s *jsonschema.Schema
	// b is s wrapped in not/not: the validator then only needs a yes or
	// no and stops at the first failure instead of collecting them all.
	b   *jsonschema.Schema
	raw json.RawMessage
}

// Compile compiles a schema document. Formats (email, …) are asserted.
func Compile(raw json.RawMessage) (*Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("schema: parse: %w", err)
	}
	c := jsonschema.NewCompiler()
	// No loader: a $ref may point only inside the document, never at a file
	// or a URL that compiling would read.
	c.UseLoader(jsonschema.SchemeURLLoader{})
	c.AssertFormat()
	c.DefaultDraft(jsonschema.Draft7)
	if err := c.AddResource("mem://schema.json", doc); err != nil {
		return nil, fmt.Errorf("schema: add: %w", err)
	}
	if err := c.AddResource("mem://pass.json", map[string]any{"not": map[string]any{"not": map[string]any{"$ref": "mem://schema.json"}}}); err != nil {
		return nil, fmt.Errorf("schema: add: %w", err)
	}
	s, err := c.Compile("mem://schema.json")
	if err != nil {
		return nil, fmt.Errorf("schema: compile: %w", err)
	}
	b, err := c.Compile("mem://pass.json")
	if err != nil {
		return nil, fmt.Errorf("schema: compile: %w", err)
	}
	return &Schema{s: s, b: b, raw: raw}, nil
}

// MustCompile is Compile for schemas written in the program; it panics on error
// and is meant for package initialisation of compiled-in schemas only.
func MustCompile(raw string) *Schema {
	s, err := Compile(json.RawMessage(raw))
	if err != nil {
		panic(err)
	}
	return s
}

// Raw returns the schema document.
func (s *Schema) Raw() json.RawMessage { return s.raw }

// Validate checks a JSON value against the schema. Values that could cost
// the validator more than the bounds in bounds.go (huge numbers, deep
// nesting, too many values) are refused with ErrTooCostly before it runs.
func (s *Schema) Validate(v json.RawMessage) error {
	values, err := checkCost(v)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(v))
	if err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	if s.b.Validate(inst) == nil {
		return nil
	}
	if values > maxDetailValues {
		return fmt.Errorf("the value (%d JSON values) does not match the schema", values)
	}
	if err := s.s.Validate(inst); err != nil {
		return fmt.Errorf("%s", oneLine(err.Error()))
	}
	return errors.New("the value does not match the schema")
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", "; ")
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}
