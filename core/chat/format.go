package chat

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// The wording of a prompt's parts, shared by every adapter (terminal,
// Slack, Matrix) so that a step reads the same everywhere:
//
//	1. quick_ride(start_point=Main Street, end_point=Elm Avenue) — reads only
//	2. gmail · send(to=ada@example.com, body=Dear Ada, here is the long…) — sends data to a third party
//
// Values longer than MaxShownValue are shortened in the call line; each
// adapter offers the full values (FullArgs) one step away.

// MaxShownValue is how many characters of an argument value a call line
// shows before shortening it with "…".
const MaxShownValue = 40

// Call renders an app's function with its arguments:
// "app · function(name=value, …)", or "app(name=value, …)" when the
// function is named like the app (a one-function app), so no name is
// repeated. Long values are shortened (ShortValue).
func Call(app, function string, args []Field) string {
	var b strings.Builder
	b.WriteString(app)
	if function != "" && function != app {
		b.WriteString(" · " + function)
	}
	b.WriteString("(")
	for i, a := range args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.Name + "=" + ShortValue(a.Value))
	}
	b.WriteString(")")
	return b.String()
}

// ShortValue is v on one line (line breaks shown as ⏎) and at most
// MaxShownValue characters, ending in "…" when cut.
func ShortValue(v string) string {
	v = strings.NewReplacer("\r\n", "⏎", "\n", "⏎", "\r", "⏎").Replace(v)
	if utf8.RuneCountInString(v) <= MaxShownValue {
		return v
	}
	r := []rune(v)
	return string(r[:MaxShownValue-1]) + "…"
}

// Shortened reports whether any of args is shown shortened in a call line.
func Shortened(args []Field) bool {
	return slices.ContainsFunc(args, func(a Field) bool { return ShortValue(a.Value) != a.Value })
}

// FullArgs lists args one per line ("name: value"), values in full, for
// the adapters' "show all" view.
func FullArgs(args []Field) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a.Name + ": " + a.Value
	}
	return out
}

// EffectText says what a function does, as SecGPT rates it (the operator's
// config or the built-in spec), and what the app claims when it claims
// something (an MCP server's annotations), marked as a claim: the rating
// counts, the claim is only shown. "" when neither is known.
func EffectText(effect, claims string) string {
	note := EffectNote(effect)
	claims = strings.TrimSpace(strings.TrimPrefix(claims, "the server says: "))
	switch {
	case claims == "":
		return note
	case note == "":
		return "the app claims: " + claims + " (not verified)"
	}
	return fmt.Sprintf("treated as: %s (the app claims: %s; a claim is not verified, so it does not lower this)", note, claims)
}

// DataText renders a prompt's data for reading: JSON objects (an
// "Arguments: {…}" line, or a whole line that is one) become one
// "name: value" line per field, values in full; other text is kept.
func DataText(data string) string {
	lines := strings.Split(data, "\n")
	var out []string
	for _, l := range lines {
		label, obj, ok := jsonObjectLine(l)
		if !ok {
			out = append(out, l)
			continue
		}
		if label != "" {
			out = append(out, label+":")
		}
		for _, f := range obj {
			out = append(out, "  "+f.Name+": "+f.Value)
		}
	}
	return strings.Join(out, "\n")
}

// jsonObjectLine reads "Label: {json object}" or "{json object}" as the
// object's fields in their order; ok is false for anything else.
func jsonObjectLine(l string) (label string, fields []Field, ok bool) {
	raw := strings.TrimSpace(l)
	if i := strings.Index(raw, ": {"); i > 0 && !strings.ContainsAny(raw[:i], "{}\"") {
		label, raw = raw[:i], raw[i+2:]
	}
	if !strings.HasPrefix(raw, "{") {
		return "", nil, false
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", nil, false
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return "", nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return "", nil, false
		}
		// Decoding turns JSON escapes ("\u001b") back into the characters
		// they stand for, so what is decoded is neutralised again.
		fields = append(fields, Field{Name: Neutralize(fmt.Sprint(k)), Value: Neutralize(jsonValue(v))})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return "", nil, false
	}
	if _, err := dec.Token(); err != io.EOF { // text after the object
		return "", nil, false
	}
	return label, fields, true
}

// jsonValue is a JSON value for reading: a string without its quotes,
// anything else as compact JSON.
func jsonValue(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

// ExpiryText says when a prompt expires to Deny: "expires at 15:04 UTC (in
// 5 min)"; "" when it does not.
func ExpiryText(at, now time.Time) string {
	if at.IsZero() {
		return ""
	}
	left := at.Sub(now).Round(time.Minute)
	in := fmt.Sprintf("in %d min", int(left.Minutes()))
	switch {
	case left < time.Minute:
		in = "in under a minute"
	case left >= time.Hour:
		in = "in " + strings.TrimSuffix(left.String(), "0s")
	}
	return fmt.Sprintf("no answer means Deny; expires at %s (%s)", at.UTC().Format("15:04 MST"), in)
}
