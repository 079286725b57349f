// Package schema compiles and applies the JSON Schemas of app requests and
// responses and of the planner's plan, using google/jsonschema-go (the
// validator the official MCP SDK uses for tool schemas).
//
// The validator is chosen for what it costs a spoke: every spoke is a fresh
// process of this binary, and santhosh-tekuri/jsonschema, used before,
// compiled five meta-schemas at package initialisation, about 25 ms of CPU
// per spoke start (measured with perf stat on the 2-core test machine: a
// spoke entry of 40 ms CPU with it, 23 ms without). google/jsonschema-go does
// no work at initialisation.
package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
)

// draft7 is the dialect a schema without "$schema" is read in: the one the
// app specifications and most MCP servers write.
const draft7 = "http://json-schema.org/draft-07/schema#"

// Schema is a compiled JSON Schema, safe for concurrent use.
type Schema struct {
	r   *jsonschema.Resolved
	raw json.RawMessage
}

// Compile compiles a schema document. Formats (email, date, …) are
// asserted, and a $ref may point only inside the document, never at a file
// or a URL that compiling would read.
func Compile(raw json.RawMessage) (*Schema, error) {
	var s jsonschema.Schema
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("schema: parse: %w", err)
	}
	switch s.Schema {
	case "", "http://json-schema.org/draft-07/schema", "https://json-schema.org/draft-07/schema",
		"http://json-schema.org/draft-06/schema#", "http://json-schema.org/draft-06/schema":
		// Draft 6 differs from 7 only in keywords 7 added (if/then/else,
		// content*), which a draft-6 schema does not use.
		s.Schema = draft7
	case "https://json-schema.org/draft/2020-12/schema#":
		s.Schema = "https://json-schema.org/draft/2020-12/schema"
	}
	if err := prepare(&s); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	// Without a Loader a reference to another document fails to resolve.
	r, err := s.Resolve(nil)
	if err != nil {
		return nil, fmt.Errorf("schema: compile: %w", err)
	}
	return &Schema{r: r, raw: raw}, nil
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
// The validator stops at the first mismatch, which the error names.
func (s *Schema) Validate(v json.RawMessage) error {
	if _, err := checkCost(v); err != nil {
		return err
	}
	if !json.Valid(v) {
		return errors.New("not valid JSON")
	}
	var inst any
	if err := json.Unmarshal(v, &inst); err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	if err := s.r.Validate(inst); err != nil {
		return fmt.Errorf("%s", oneLine(err.Error()))
	}
	return nil
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", "; ")
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}
