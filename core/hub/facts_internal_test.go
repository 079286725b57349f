package hub

import (
	"encoding/json"
	"testing"
)

// FuzzFactMatch: tokenising planner text never panics, and a fact written
// anywhere in a task, as text or as a JSON string value, is always found.
func FuzzFactMatch(f *testing.F) {
	for _, s := range [][2]string{{"clinic for ", "type 2 diabetes"}, {"", "Ｔｙｐｅ-２"}, {"x\u200by", "a\u0301b"}, {`{"a":`, `"}`}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, prefix, fact string) {
		ft := factTokens(fact)
		if len(ft) == 0 {
			return
		}
		if !containsTokens(factTokens(prefix+" "+fact+" tail"), ft) {
			t.Fatalf("fact %q not found in text %q", fact, prefix+" "+fact)
		}
		args, _ := json.Marshal(map[string]string{"k": prefix + " " + fact})
		if !containsTokens(factTokens(jsonText(args)), ft) {
			t.Fatalf("fact %q not found in JSON %s", fact, args)
		}
	})
}
