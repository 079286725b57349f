package schema

import (
	"fmt"

	"github.com/google/jsonschema-go/jsonschema"
)

// formatPatterns asserts the "format" keyword, which google/jsonschema-go
// treats as an annotation only: each format below becomes the equivalent
// "pattern" (both apply to strings only, so the semantics agree). A format
// not listed stays an annotation, as the specification allows.
//
// The patterns are deliberately strict where the RFCs are wide: an email
// address is a dot-atom local part and a host name (no quoted local parts,
// no address literals), which is what the apps' recipients fields need.
var formatPatterns = map[string]string{
	"email":     `^[A-Za-z0-9!#$%&'*+/=?^_` + "`" + `{|}~-]{1,64}(\.[A-Za-z0-9!#$%&'*+/=?^_` + "`" + `{|}~-]{1,64})*@` + hostLabels + `$`,
	"hostname":  `^` + hostLabels + `$`,
	"date":      `^` + date + `$`,
	"time":      `^` + timeOfDay + `$`,
	"date-time": `^` + date + `[Tt ]` + timeOfDay + `$`,
	"uuid":      `^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`,
	"ipv4":      `^(` + octet + `\.){3}` + octet + `$`,
	"uri":       `^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"{}|\\^` + "`" + `]*$`,
}

const (
	hostLabel  = `[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?`
	hostLabels = hostLabel + `(\.` + hostLabel + `)*`
	date       = `[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])`
	timeOfDay  = `([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])`
	octet      = `(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])`
)

// prepare checks what the validator does not (type names) and rewrites
// every subschema's known format into a pattern. depth bounds the
// recursion: schemas come from apps and MCP servers.
func prepare(s *jsonschema.Schema) error { return walk(s, 0) }

// typeNames are JSON Schema's primitive types.
var typeNames = map[string]bool{"null": true, "boolean": true, "object": true, "array": true, "number": true, "string": true, "integer": true}

func walk(s *jsonschema.Schema, depth int) error {
	if s == nil {
		return nil
	}
	if depth > MaxDepth {
		return fmt.Errorf("nested deeper than %d levels", MaxDepth)
	}
	for _, t := range append([]string{s.Type}, s.Types...) {
		if t != "" && !typeNames[t] {
			return fmt.Errorf("unknown type %q", t)
		}
	}
	if p, ok := formatPatterns[s.Format]; ok {
		if s.Pattern == "" {
			s.Pattern = p
		} else {
			s.AllOf = append(s.AllOf, &jsonschema.Schema{Pattern: p})
		}
	}
	one := []*jsonschema.Schema{s.Items, s.AdditionalItems, s.Contains, s.UnevaluatedItems,
		s.AdditionalProperties, s.PropertyNames, s.UnevaluatedProperties, s.Not, s.If, s.Then, s.Else, s.ContentSchema}
	for _, list := range [][]*jsonschema.Schema{one, s.PrefixItems, s.ItemsArray, s.AllOf, s.AnyOf, s.OneOf} {
		for _, c := range list {
			if err := walk(c, depth+1); err != nil {
				return err
			}
		}
	}
	for _, m := range []map[string]*jsonschema.Schema{s.Defs, s.Definitions, s.DependencySchemas, s.Properties, s.PatternProperties, s.DependentSchemas} {
		for _, c := range m {
			if err := walk(c, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
