package invariants

import (
	"regexp"
	"strings"
	"unicode"
)

// canaryPrefix starts every canary: CNRY, the emitting app's letter, ten hex
// digits. Canaries survive JSON escaping and control-character escaping, so
// a copy is found wherever it went.
const canaryPrefix = "CNRY"

var canaryRE = regexp.MustCompile(canaryPrefix + `[A-Z][0-9a-f]{10}`)

// Canaries returns the canaries in s, in order, with repeats.
func Canaries(s string) []string {
	if !strings.Contains(s, canaryPrefix) {
		return nil
	}
	return canaryRE.FindAllString(s, -1)
}

// figureRE finds the hostile apps' figures ("$312345.67", see figure) and
// what a responder makes of them (any dollar amount with cents).
var figureRE = regexp.MustCompile(`\$\d+\.\d{2}`)

// Remembered facts look like "qzkfpd 4821": "qz", six letters, four digits.
// The planner rewords them (case, hyphens, spacing); factLike finds every
// spelling that normalises to one.
var factRE = regexp.MustCompile(`(?i)qz[a-z]{6}[\s\-_.]{0,3}[0-9]{4}`)

func factLike(s string) []string { return factRE.FindAllString(s, -1) }

// normalise lowercases s and drops everything but letters and digits: the
// form in which a reworded fact is still the same fact.
func normalise(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// controlAt returns the byte offset of the first character in s that can
// change how text around it looks: a C0 control other than newline, DEL, a
// C1 control (ESC sequences start with one of these), a bidi embedding,
// override or isolate, or a line or paragraph separator. -1 if none.
func controlAt(s string) int {
	for i, r := range s {
		switch {
		case r == '\n':
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f,
			r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x2028, r == 0x2029:
			return i
		}
	}
	return -1
}
