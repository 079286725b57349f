package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// Result is an earlier step's result as later steps see it.
type Result struct {
	// JSON is the result's value (a structured result, or the text as a
	// JSON string).
	JSON json.RawMessage
	// Text is the result as text.
	Text string
}

// SubstituteArgs replaces the references in a step's arguments: a string
// value that is exactly "<result_N>" becomes result N's JSON value (typed:
// a number stays a number), and a reference inside a longer string becomes
// result N's text. results[n-1] is result n; references to results not
// given are left as they are.
func SubstituteArgs(args json.RawMessage, results []Result) (json.RawMessage, error) {
	if len(args) == 0 {
		return args, nil
	}
	d := json.NewDecoder(bytes.NewReader(args))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("substitute results: %w", err)
	}
	v = substitute(v, results)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("substitute results: %w", err)
	}
	return json.RawMessage(bytes.TrimRight(b.Bytes(), "\n")), nil
}

func substitute(v any, results []Result) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = substitute(e, results)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = substitute(e, results)
		}
		return x
	case string:
		if m := refRE.FindStringSubmatch(x); m != nil && m[0] == x {
			n, _ := strconv.Atoi(m[1])
			if n >= 1 && n <= len(results) && json.Valid(results[n-1].JSON) {
				return results[n-1].JSON
			}
			return x
		}
		texts := make([]string, len(results))
		for i, r := range results {
			texts[i] = r.Text
		}
		return Substitute(x, texts, false)
	}
	return v
}

// Into returns the names of the top-level arguments of step s that refer to
// result n, sorted; "instruction" when its instruction does.
func (s Step) Into(n int) []string {
	ref := "<result_" + strconv.Itoa(n) + ">"
	var out []string
	var m map[string]json.RawMessage
	if json.Unmarshal(s.Args, &m) == nil {
		for k, v := range m {
			if bytes.Contains(v, []byte(ref)) {
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	if bytes.Contains([]byte(s.Instruction), []byte(ref)) {
		out = append(out, "instruction")
	}
	return out
}

// Fields returns a step's arguments as readable name/value pairs in name
// order; a value that is a reference reads "(step N's result)".
func (s Step) Fields() [][2]string {
	var m map[string]json.RawMessage
	if json.Unmarshal(s.Args, &m) != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][2]string, 0, len(keys))
	for _, k := range keys {
		v := m[k]
		var str string
		text := string(v)
		if json.Unmarshal(v, &str) == nil {
			text = str
		}
		text = refRE.ReplaceAllStringFunc(text, func(r string) string {
			return "(step " + refRE.FindStringSubmatch(r)[1] + "'s result)"
		})
		out = append(out, [2]string{k, text})
	}
	return out
}
