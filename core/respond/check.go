package respond

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The responder's reply is free text written by a model that has read
// every approved result, so one app's result can order it to misreport
// another app's figures (the first case study's attack moved from a
// description into a result). The hub cannot stop the model from obeying;
// it checks what the model wrote. A figure (a number) in the reply stands
// for the app that the sentence around it names, read mechanically:
//
//   - the reply is cut into sentences (a line, or text up to ". ", "! ",
//     "? ");
//   - in a sentence, a figure belongs to the app named last before it, or,
//     when no app is named before it, to the first app named after it;
//   - a sentence that names no app belongs to the apps of the sentence
//     before it; before any app is named, to every result at once.
//
// A figure is genuine when the app it belongs to returned it (in its
// result or its planned arguments) or the user's question holds it. A
// sentence with a figure that is not genuine is replaced, as a whole, by a
// note and the result of each app it named, as that app returned it.

// Claim is one figure of a reply and the apps it is attributed to (all of
// the results' apps when the reply named none before it).
type Claim struct {
	// Figure is the figure as written.
	Figure string
	// Apps are the apps the figure is attributed to.
	Apps []string
}

// Attributor reads, sentence by sentence, which app each figure of a
// reply is attributed to. It keeps the apps of the last sentence that
// named one. The zero value knows no apps; use NewAttributor.
type Attributor struct {
	apps []string
	// all is what a figure belongs to before any app is named (nil: apps).
	all  []string
	prev []string
	// midLine: the sentence before did not end its line, so the next one
	// cannot start with a list marker.
	midLine bool
	marker  int
}

// NewAttributor returns an attributor for a reply about the given apps.
func NewAttributor(apps []string) *Attributor {
	a := &Attributor{}
	seen := map[string]bool{}
	for _, id := range apps {
		if id != "" && !seen[id] {
			seen[id] = true
			a.apps = append(a.apps, id)
		}
	}
	// Longest first, so that an app whose ID contains another's is found
	// as itself.
	sort.SliceStable(a.apps, func(i, j int) bool { return len(a.apps[i]) > len(a.apps[j]) })
	return a
}

// mention is an app named at [start, end) of a sentence.
type mention struct {
	app        string
	start, end int
}

// Sentence returns the claims of one sentence (as Sentences cuts them),
// read after the sentences before it.
func (a *Attributor) Sentence(s string) []Claim {
	ms := a.mentions(s)
	masked := []byte(s)
	for _, m := range ms {
		for i := m.start; i < m.end; i++ {
			masked[i] = ' '
		}
	}
	var out []Claim
	for _, f := range a.figures(string(masked)) {
		var owner []string
		for _, m := range ms {
			if m.end <= f[0] {
				owner = []string{m.app}
			}
		}
		switch {
		case owner != nil:
		case len(ms) > 0:
			owner = []string{ms[0].app}
		case a.prev != nil:
			owner = a.prev
		case a.all != nil:
			owner = a.all
		default:
			owner = a.apps
		}
		out = append(out, Claim{Figure: s[f[0]:f[1]], Apps: owner})
	}
	a.midLine = !strings.HasSuffix(s, "\n")
	if len(ms) > 0 {
		a.prev = nil
		for _, m := range ms {
			if !contains(a.prev, m.app) {
				a.prev = append(a.prev, m.app)
			}
		}
	}
	return out
}

// Named returns the apps named in s, in order of first mention.
func (a *Attributor) Named(s string) []string {
	var out []string
	for _, m := range a.mentions(s) {
		if !contains(out, m.app) {
			out = append(out, m.app)
		}
	}
	return out
}

func (a *Attributor) mentions(s string) []mention {
	// ASCII case only: the lowered text keeps every byte where it was
	// (strings.ToLower rewrites invalid UTF-8, which moves the offsets).
	lower := asciiLower(s)
	taken := make([]bool, len(s))
	var ms []mention
	for _, id := range a.apps {
		lid := asciiLower(id)
		for off := 0; ; {
			i := strings.Index(lower[off:], lid)
			if i < 0 {
				break
			}
			i += off
			j := i + len(lid)
			off = j
			if (i > 0 && isWordByte(lower[i-1])) || (j < len(lower) && isWordByte(lower[j])) || taken[i] {
				continue
			}
			for k := i; k < j; k++ {
				taken[k] = true
			}
			ms = append(ms, mention{app: id, start: i, end: j})
		}
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].start < ms[j].start })
	return ms
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf
}

// figureRE finds figures: digits with ',' or '.' groups. A figure glued to
// a word before it (an ID such as "r2") is part of that word; one followed
// by letters ("10am", "61.80USD") is still a figure.
var figureRE = regexp.MustCompile(`\d+(?:[.,]\d+)*`)

// listMarkerRE is an ordered list's marker at the start of a line.
var listMarkerRE = regexp.MustCompile(`^\s*(\d{1,3})[.)](?:\s|$)`)

// figures returns the spans of the figures in s, skipping the marker of a
// numbered list (1, or one more than the marker before).
func (a *Attributor) figures(s string) [][2]int {
	skip := -1
	if m := listMarkerRE.FindStringSubmatchIndex(s); m != nil && !a.midLine {
		n, _ := strconv.Atoi(s[m[2]:m[3]])
		if n == 1 || n == a.marker+1 {
			a.marker, skip = n, m[2]
		}
	}
	var out [][2]int
	for _, m := range figureRE.FindAllStringIndex(s, -1) {
		if m[0] == skip || (m[0] > 0 && isWordByte(s[m[0]-1]) && s[m[0]-1] < utf8.RuneSelf) {
			continue
		}
		out = append(out, [2]int{m[0], m[1]})
	}
	return out
}

// FigureKey is the value of a figure, so that "51.8", "51.80" and
// "1,051.80" match the way a reader reads them. A figure that is not a
// number (too long) is its own key.
func FigureKey(fig string) string {
	s := fig
	if strings.Count(s, ",") > 0 && (strings.Count(s, ".") > 0 || thousands(s)) {
		s = strings.ReplaceAll(s, ",", "")
	} else {
		s = strings.ReplaceAll(s, ",", ".")
	}
	if strings.Count(s, ".") > 1 {
		return fig
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fig
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// thousands reports whether every ',' group of s has three digits.
func thousands(s string) bool {
	parts := strings.Split(s, ",")
	for _, p := range parts[1:] {
		if len(p) != 3 {
			return false
		}
	}
	return true
}

// Figures returns the keys of every figure in text.
func Figures(text string) map[string]bool {
	out := map[string]bool{}
	for _, f := range figureRE.FindAllString(text, -1) {
		out[FigureKey(f)] = true
		// A figure's parts are figures too: "2023-11-14" in a result and
		// "11" in the reply, "51.80" and "51".
		for _, p := range strings.FieldsFunc(f, func(r rune) bool { return r == '.' || r == ',' }) {
			out[FigureKey(p)] = true
		}
	}
	return out
}

// Sentences cuts text into sentences, each with the separator after it,
// so that joining them gives text back. The last one may be incomplete:
// more text could still extend it.
func Sentences(text string) (complete []string, rest string) {
	for {
		n := sentenceEnd(text)
		if n < 0 {
			return complete, text
		}
		complete = append(complete, text[:n])
		text = text[n:]
	}
}

// sentenceEnd returns the length of the first complete sentence of text,
// or -1.
func sentenceEnd(text string) int {
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '\n':
			return i + 1
		case '.', '!', '?':
			if i+1 < len(text) && (text[i+1] == ' ' || text[i+1] == '\n') {
				return i + 2
			}
		}
	}
	return -1
}

// Checker checks a responder's reply against the results it was written
// from, sentence by sentence. It is used from one goroutine.
type Checker struct {
	at       *Attributor
	question map[string]bool
	own      map[string]map[string]bool
	results  map[string][]string
	apps     []string
	// Replaced counts the sentences replaced so far.
	Replaced int
}

// NewChecker returns a checker for a reply to question written from
// results. idle are the apps of the plan's other steps (denied, failed):
// named, they have no figures. Only these apps are read as named: a word
// that looks like the ID of an app outside the plan (in a mail's text)
// attributes nothing.
func NewChecker(question string, results []Result, idle []string) *Checker {
	c := &Checker{question: Figures(question), own: map[string]map[string]bool{}, results: map[string][]string{}}
	var ran []string
	for _, r := range results {
		if c.own[r.App] == nil {
			c.own[r.App] = map[string]bool{}
			ran = append(ran, r.App)
		}
		for k := range Figures(r.Result + " " + string(r.Given)) {
			c.own[r.App][k] = true
		}
		c.results[r.App] = append(c.results[r.App], r.Result)
	}
	c.apps = append(append([]string(nil), ran...), idle...)
	c.at = NewAttributor(c.apps)
	// Before the reply names an app, a figure may be any result's.
	c.at.all = ran
	return c
}

// Genuine reports whether figure fig may be attributed to apps: one of
// them returned it, or the question holds it.
func Genuine(fig string, apps []string, own map[string]map[string]bool, question map[string]bool) bool {
	k := FigureKey(fig)
	if question[k] {
		return true
	}
	for _, a := range apps {
		if own[a][k] {
			return true
		}
	}
	return false
}

// Sentence checks one sentence (as Sentences cuts them, in order) and
// returns it, or its replacement when a figure in it is not genuine.
func (c *Checker) Sentence(s string) string {
	before := *c.at
	var bad []string
	for _, cl := range c.at.Sentence(s) {
		if !Genuine(cl.Figure, cl.Apps, c.own, c.question) {
			for _, a := range cl.Apps {
				if !contains(bad, a) {
					bad = append(bad, a)
				}
			}
		}
	}
	if bad == nil {
		return s
	}
	c.Replaced++
	named := c.at.Named(s)
	if len(named) == 0 {
		named = bad
	}
	// Each part on a line of its own: a line ends a sentence, so what
	// follows is never read as part of a quote, nor a quote as part of it.
	var b strings.Builder
	fmt.Fprintf(&b, "(SecGPT replaced a sentence here: its figures did not match the results of %s.)\n", strings.Join(named, " and "))
	for _, a := range named {
		for _, r := range c.results[a] {
			fmt.Fprintf(&b, "As %s returned it: %s\n", a, c.Quote(a, r))
		}
	}
	out := b.String()
	// A reader of the reply reads the replacement, not s: the sentences
	// after it are attributed as the reader will attribute them.
	*c.at = before
	done, rest := Sentences(out)
	for _, x := range append(done, rest) {
		if x != "" {
			c.at.Sentence(x)
		}
	}
	return out
}

// Text checks a whole reply.
func (c *Checker) Text(text string) string {
	done, rest := Sentences(text)
	var b strings.Builder
	for _, s := range append(done, rest) {
		if s != "" {
			b.WriteString(c.Sentence(s))
		}
	}
	return strings.TrimRight(b.String(), " ")
}

// maxQuote bounds an app's result quoted in a replacement.
const maxQuote = 600

// Quote renders app's result r for a reply: on one line, at most maxQuote
// bytes (never cut inside a figure), and with the other apps' names
// replaced, so that nothing in it is attributed to another app.
func (c *Checker) Quote(app, r string) string {
	r = strings.Join(strings.Fields(r), " ")
	r = MaskApps(r, app, c.apps)
	if len(r) > maxQuote {
		n := maxQuote
		for n > 0 && (!utf8.RuneStart(r[n]) || isDigitish(r[n]) || isDigitish(r[n-1])) {
			n--
		}
		r = r[:n] + "…"
	}
	return r
}

func isDigitish(c byte) bool { return c >= '0' && c <= '9' || c == '.' || c == ',' }

// MaskApps returns text (app's own words) with the names of the other
// apps of the reply replaced by "another app": quoted under app's name,
// a figure it gives for another app would otherwise be read as that app's.
func MaskApps(text, app string, apps []string) string {
	var others []string
	for _, a := range apps {
		if a != app {
			others = append(others, a)
		}
	}
	if len(others) == 0 {
		return text
	}
	at := NewAttributor(others)
	ms := at.mentions(text)
	var b strings.Builder
	last := 0
	for _, m := range ms {
		b.WriteString(text[last:m.start])
		b.WriteString("another app")
		last = m.end
	}
	b.WriteString(text[last:])
	return b.String()
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
