package stdin

import (
	"regexp"
	"strings"
	"unicode"
)

// ANSI SGR sequences the renderer adds. They are added after the text was
// neutralised (chat.Neutralize), so they are the only escapes on screen.
const (
	sgrBold      = "\x1b[1m"
	sgrItalic    = "\x1b[3m"
	sgrDim       = "\x1b[2m"
	sgrUnderline = "\x1b[4m"
	sgrReset     = "\x1b[0m"
)

var (
	mdHeadingRE = regexp.MustCompile(`^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$`)
	mdBulletRE  = regexp.MustCompile(`^(\s*)[-*+]\s+(.*)$`)
	mdOrderedRE = regexp.MustCompile(`^(\s*)(\d{1,9})[.)]\s+(.*)$`)
	mdQuoteRE   = regexp.MustCompile(`^\s{0,3}>\s?(.*)$`)
	mdRuleRE    = regexp.MustCompile(`^\s{0,3}(?:(?:-\s*){3,}|(?:\*\s*){3,}|(?:_\s*){3,})$`)
	mdFenceRE   = regexp.MustCompile("^\\s{0,3}(```+|~~~+)")
	mdLinkRE    = regexp.MustCompile(`!?\[([^\[\]]*)\]\(\s*<?([^\s()<>]+)>?(?:\s+"[^"]*")?\s*\)`)
	mdAutoRE    = regexp.MustCompile(`<((?:https?|mailto):[^\s<>]+)>`)
	mdBoldRE    = regexp.MustCompile(`\*\*([^*\n]+?)\*\*`)
	mdItalicRE  = regexp.MustCompile(`(^|[^\w*])\*([^*\s](?:[^*\n]*?[^*\s])?)\*($|[^\w*])`)
	mdCodeRE    = regexp.MustCompile("`([^`\n]+)`")
	// mdBareURLRE finds URLs written without link syntax, whose underscores
	// must not be read as emphasis.
	mdBareURLRE = regexp.MustCompile(`(?:https?|mailto):[^\s<>()]+`)
)

// renderer turns the markdown the hub writes into terminal text one line at
// a time (so a streamed reply can be shown line by line): bold and italic
// as ANSI styles (or plain text when not styled), bullets as •, headings
// bold, links as "text (URL)" so the real target is always visible, code
// blocks indented and left as they are.
type renderer struct {
	styled bool
	fence  string // the opening fence while inside a code block
}

// render renders a whole text.
func render(md string, styled bool) string {
	r := renderer{styled: styled}
	lines := strings.Split(md, "\n")
	for i, l := range lines {
		lines[i] = r.line(l)
	}
	return strings.Join(lines, "\n")
}

func (r *renderer) style(s, sgr string) string {
	if !r.styled || s == "" {
		return s
	}
	return sgr + s + sgrReset
}

// line renders one line (without its newline).
func (r *renderer) line(l string) string {
	if r.fence != "" {
		if m := mdFenceRE.FindStringSubmatch(l); m != nil && strings.HasPrefix(m[1], r.fence[:1]) && len(m[1]) >= len(r.fence) && strings.TrimSpace(l) == m[1] {
			r.fence = ""
			return ""
		}
		return "    " + r.style(l, sgrDim)
	}
	if m := mdFenceRE.FindStringSubmatch(l); m != nil {
		r.fence = m[1]
		return ""
	}
	if strings.TrimSpace(l) == "" {
		return ""
	}
	if mdRuleRE.MatchString(l) {
		return "──────────"
	}
	if m := mdHeadingRE.FindStringSubmatch(l); m != nil {
		t := strings.NewReplacer("**", "", "__", "").Replace(m[2])
		return r.style(r.inline(t, false), sgrBold+sgrUnderline)
	}
	if m := mdBulletRE.FindStringSubmatch(l); m != nil {
		indent := strings.Repeat("  ", len(strings.ReplaceAll(m[1], "\t", "  "))/2)
		return indent + "  • " + r.inline(m[2], true)
	}
	if m := mdOrderedRE.FindStringSubmatch(l); m != nil {
		indent := strings.Repeat("  ", len(strings.ReplaceAll(m[1], "\t", "  "))/2)
		return indent + "  " + m[2] + ". " + r.inline(m[3], true)
	}
	if m := mdQuoteRE.FindStringSubmatch(l); m != nil {
		return "  │ " + r.inline(m[1], true)
	}
	return r.inline(l, true)
}

// inline renders emphasis, code spans and links in one line. Links always
// show their target: "[your bank](https://evil.example)" becomes
// "your bank (https://evil.example)".
func (r *renderer) inline(s string, emphasis bool) string {
	var saved []string
	save := func(v string) string {
		saved = append(saved, v)
		return "\x00" + string(rune('0'+len(saved)-1)) + "\x00"
	}
	if len(saved) < 10 && strings.Contains(s, "`") {
		s = mdCodeRE.ReplaceAllStringFunc(s, func(m string) string {
			if len(saved) >= 10 {
				return m
			}
			code := m[1 : len(m)-1]
			if r.styled {
				return save(r.style(code, sgrDim))
			}
			return save(m)
		})
	}
	// A link target is shown as written: its underscores and asterisks are
	// part of the address, not emphasis (CommonMark parses no emphasis in a
	// destination), so it is set aside like a code span.
	url := func(u string) string {
		if len(saved) >= 10 {
			return r.style(u, sgrUnderline)
		}
		return save(r.style(u, sgrUnderline))
	}
	if strings.Contains(s, "](") {
		s = mdLinkRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := mdLinkRE.FindStringSubmatch(m)
			text, u := strings.TrimSpace(sub[1]), sub[2]
			if text == "" || text == u {
				return url(u)
			}
			return text + " (" + url(u) + ")"
		})
	}
	if strings.Contains(s, "<") {
		s = mdAutoRE.ReplaceAllStringFunc(s, func(m string) string {
			return url(m[1 : len(m)-1])
		})
	}
	if emphasis && strings.Contains(s, ":") {
		s = mdBareURLRE.ReplaceAllStringFunc(s, func(m string) string {
			// Trailing punctuation ends the sentence (or closes
			// emphasis around the URL), as GFM's autolinks read it.
			u := strings.TrimRight(m, ".,:;!?*_~'\"")
			if len(saved) >= 10 || u == "" {
				return m
			}
			return save(u) + m[len(u):]
		})
	}
	if emphasis {
		s = mdBoldRE.ReplaceAllStringFunc(s, func(m string) string {
			return r.style(m[2:len(m)-2], sgrBold)
		})
		s = mdItalicRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := mdItalicRE.FindStringSubmatch(m)
			return sub[1] + r.style(sub[2], sgrItalic) + sub[3]
		})
		if strings.Contains(s, "_") {
			s = r.underscores(s, 2, sgrBold)
			s = r.underscores(s, 1, sgrItalic)
		}
	}
	for i, v := range saved {
		s = strings.Replace(s, "\x00"+string(rune('0'+i))+"\x00", v, 1)
	}
	return s
}

// underscores styles text between two runs of exactly n underscores (n=2
// strong, n=1 emphasis) by CommonMark's flanking rules, so that an
// underscore inside a word neither opens nor closes: send_email,
// snake_case_name and a_b_c stay as written. Runs of another length
// (___, ____) are left alone.
func (r *renderer) underscores(s string, n int, sgr string) string {
	runes := []rune(s)
	// run reports whether a run of exactly n underscores starts at i, and
	// whether it can open and close emphasis.
	run := func(i int) (ok, open, close bool) {
		if i+n > len(runes) {
			return false, false, false
		}
		for k := i; k < i+n; k++ {
			if runes[k] != '_' {
				return false, false, false
			}
		}
		prev, next := ' ', ' ' // the line's ends count as whitespace
		if i > 0 {
			prev = runes[i-1]
		}
		if i+n < len(runes) {
			next = runes[i+n]
		}
		// An SGR sequence stands where the renderer took out a "**" or
		// "*" (the text was neutralised, so every ESC is the renderer's):
		// flank it as that punctuation, so "**_x_**" is bold italic.
		if prev == 'm' && sgrEndsAt(runes, i-1) {
			prev = '*'
		}
		if next == '\x1b' {
			next = '*'
		}
		if prev == '_' || next == '_' {
			return false, false, false
		}
		left := !unicode.IsSpace(next) && (!isPunct(next) || unicode.IsSpace(prev) || isPunct(prev))
		right := !unicode.IsSpace(prev) && (!isPunct(prev) || unicode.IsSpace(next) || isPunct(next))
		return true, left && (!right || isPunct(prev)), right && (!left || isPunct(next))
	}
	type delim struct {
		at          int
		open, close bool
	}
	var ds []delim
	for i := range runes {
		if ok, open, closes := run(i); ok && (open || closes) {
			ds = append(ds, delim{i, open, closes})
		}
	}
	// next[k] is the first delimiter from ds[k] on that can close, so that
	// a line of openers without closers costs one pass, not a square.
	next := make([]int, len(ds)+1)
	next[len(ds)] = -1
	for k := len(ds) - 1; k >= 0; k-- {
		next[k] = next[k+1]
		if ds[k].close {
			next[k] = k
		}
	}
	var b strings.Builder
	last := 0 // runes[last:] are not yet written
	for k := 0; k < len(ds); k++ {
		if !ds[k].open || next[k+1] < 0 {
			continue
		}
		m := next[k+1]
		i, j := ds[k].at, ds[m].at
		b.WriteString(string(runes[last:i]))
		b.WriteString(r.style(string(runes[i+n:j]), sgr))
		last = j + n
		k = m
	}
	b.WriteString(string(runes[last:]))
	return b.String()
}

// sgrEndsAt reports whether an SGR sequence ("\x1b[" digits "m") ends at
// runes[end].
func sgrEndsAt(runes []rune, end int) bool {
	k := end - 1
	for k >= 0 && (runes[k] >= '0' && runes[k] <= '9' || runes[k] == ';') {
		k--
	}
	return k >= 1 && runes[k] == '[' && runes[k-1] == '\x1b'
}

// isPunct is CommonMark's punctuation: ASCII punctuation and Unicode P and
// S categories.
func isPunct(c rune) bool { return unicode.IsPunct(c) || unicode.IsSymbol(c) }
