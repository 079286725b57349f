// Package kit holds the few helpers the built-in apps share: decoding
// arguments, building string results that fit their schema, and splitting
// text into words for the fixture search of the mail and drive apps.
//
// Only packages under apps/ import it.
package kit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrUnknownFunction is returned by an app's Call for a functionality the
// app does not have.
var ErrUnknownFunction = errors.New("unknown functionality")

// Unknown wraps ErrUnknownFunction with the app and functionality names.
func Unknown(app, fn string) error {
	return fmt.Errorf("%s: %w %q", app, ErrUnknownFunction, fn)
}

// Decode unmarshals validated request arguments.
func Decode(fn string, args json.RawMessage, v any) error {
	if err := json.Unmarshal(args, v); err != nil {
		return fmt.Errorf("decode %s arguments: %w", fn, err)
	}
	return nil
}

// Truncate shortens s to at most n characters (code points, as JSON
// Schema's maxLength counts them), marking a cut with "…".
func Truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// String encodes s, truncated to max characters, as a JSON string result.
// An empty s becomes "(empty)" because every string response schema here
// has minLength 1.
func String(s string, max int) (json.RawMessage, error) {
	if s == "" {
		s = "(empty)"
	}
	raw, err := json.Marshal(Truncate(s, max))
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	return raw, nil
}

// stop are words that say nothing about which item a user wants ("show my
// latest emails"); a query made only of them selects everything.
var stop = map[string]bool{
	"a": true, "all": true, "an": true, "and": true, "any": true, "about": true,
	"doc": true, "docs": true, "document": true, "documents": true, "drive": true,
	"email": true, "emails": true, "file": true, "files": true, "find": true,
	"for": true, "from": true, "get": true, "gmail": true, "in": true, "inbox": true,
	"is": true, "last": true, "latest": true, "list": true, "mail": true,
	"mails": true, "me": true, "message": true, "messages": true, "most": true,
	"my": true, "new": true, "newest": true, "of": true, "on": true, "or": true,
	"recent": true, "retrieve": true, "search": true, "show": true, "the": true,
	"to": true, "user": true, "users": true, "with": true,
	"everything": true, "relevant": true, "important": true,
}

// Words splits s into lowercase words of letters and digits.
func Words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// Terms returns the distinct words of a query that are not stop words, in
// order of first appearance.
func Terms(q string) []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range Words(q) {
		if len(w) < 2 || stop[w] || seen[w] {
			continue
		}
		seen[w] = true
		out = append(out, w)
	}
	return out
}

// DecodeConfig strictly decodes an app's config section into v: unknown
// fields are errors, so a misspelt key is reported instead of ignored. A
// nil or empty config leaves v unchanged.
func DecodeConfig(raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode app config: %w", err)
	}
	return nil
}
