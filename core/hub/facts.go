package hub

import (
	"encoding/json"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// factTokens splits s into the tokens remembered facts are matched on, so
// that the planner rewording a fact's spelling does not hide it from the
// data gate: case is folded, compatibility forms and accents are reduced
// (NFKD without combining marks: "ｄｉａｂｅｔｅｓ", "diabètes"), anything that is
// not a letter or digit separates tokens (punctuation, spacing, hyphens,
// underscores, zero-width characters), and so does a change between letters
// and digits ("type2" is "type 2"). Out of reach: paraphrase
// ("blood sugar disease"), abbreviation ("T2D"), translation, numbers in
// words ("two"), misspelling, and encodings the planner might invent
// (base64, ROT13).
func factTokens(s string) []string {
	var toks []string
	var cur []rune
	var curDigit bool
	flush := func() {
		if len(cur) > 0 {
			toks = append(toks, string(cur))
			cur = cur[:0]
		}
	}
	for _, r := range norm.NFKD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			d := unicode.IsDigit(r)
			if len(cur) > 0 && d != curDigit {
				flush()
			}
			curDigit = d
			cur = append(cur, unicode.ToLower(r))
		default:
			flush()
		}
	}
	flush()
	return toks
}

// containsTokens reports whether needle occurs as a run of whole tokens in
// hay.
func containsTokens(hay, needle []string) bool {
	if len(needle) == 0 || len(needle) > len(hay) {
		return false
	}
outer:
	for i := 0; i+len(needle) <= len(hay); i++ {
		for j, t := range needle {
			if hay[i+j] != t {
				continue outer
			}
		}
		return true
	}
	return false
}

// jsonText returns the text of a JSON document's keys and values, with
// string escapes decoded ("\u0074ype 2" is "type 2"), or raw itself if it
// is not JSON.
func jsonText(raw []byte) string {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				b.WriteString(k)
				b.WriteByte(' ')
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case string:
			b.WriteString(v)
			b.WriteByte(' ')
		case json.Number, float64, bool:
			b.WriteString(strings.TrimSpace(strings.Trim(jsonString(v), `"`)))
			b.WriteByte(' ')
		}
	}
	walk(v)
	return b.String()
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
