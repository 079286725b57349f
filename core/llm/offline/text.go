package offline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// resultText is an app's result as the demo answers it: a JSON list (the
// search apps' hits) as one line per item, "id: 1, city: New York", so the
// demo answers in text rather than raw JSON; anything else as it is.
func resultText(r string) string {
	t := strings.TrimSpace(r)
	if !strings.HasPrefix(t, "[") {
		return r
	}
	var items []json.RawMessage
	if json.Unmarshal([]byte(t), &items) != nil {
		return r
	}
	if len(items) == 0 {
		return "(none)"
	}
	lines := make([]string, 0, len(items))
	for _, it := range items {
		line, ok := itemText(it)
		if !ok {
			return r
		}
		lines = append(lines, "- "+line)
	}
	return strings.Join(lines, "\n")
}

// itemText is one list item on a line: an object's fields in order as
// "name: value", or a scalar; ok is false for nested values.
func itemText(it json.RawMessage) (string, bool) {
	if v, ok := scalarText(it); ok {
		return v, true
	}
	dec := json.NewDecoder(bytes.NewReader(it))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", false
	}
	var parts []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return "", false
		}
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return "", false
		}
		s, ok := scalarText(v)
		if !ok {
			return "", false
		}
		parts = append(parts, fmt.Sprintf("%v: %s", k, s))
	}
	return strings.Join(parts, ", "), true
}

// scalarText is a JSON string without quotes, or a number, bool or null.
func scalarText(v json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, true
	}
	t := strings.TrimSpace(string(v))
	if t == "" || t[0] == '{' || t[0] == '[' {
		return "", false
	}
	return t, true
}
