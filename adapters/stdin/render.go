package stdin

import (
	"regexp"
	"strings"
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
	mdBoldRE    = regexp.MustCompile(`\*\*([^*\n]+?)\*\*|__([^_\n]+?)__`)
	mdItalicRE  = regexp.MustCompile(`(^|[^\w*])\*([^*\s](?:[^*\n]*?[^*\s])?)\*($|[^\w*])`)
	mdCodeRE    = regexp.MustCompile("`([^`\n]+)`")
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
	if strings.Contains(s, "](") {
		s = mdLinkRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := mdLinkRE.FindStringSubmatch(m)
			text, u := strings.TrimSpace(sub[1]), sub[2]
			if text == "" || text == u {
				return r.style(u, sgrUnderline)
			}
			return text + " (" + r.style(u, sgrUnderline) + ")"
		})
	}
	if strings.Contains(s, "<") {
		s = mdAutoRE.ReplaceAllStringFunc(s, func(m string) string {
			return r.style(m[1:len(m)-1], sgrUnderline)
		})
	}
	if emphasis {
		s = mdBoldRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := mdBoldRE.FindStringSubmatch(m)
			return r.style(sub[1]+sub[2], sgrBold)
		})
		s = mdItalicRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := mdItalicRE.FindStringSubmatch(m)
			return sub[1] + r.style(sub[2], sgrItalic) + sub[3]
		})
	}
	for i, v := range saved {
		s = strings.Replace(s, "\x00"+string(rune('0'+i))+"\x00", v, 1)
	}
	return s
}
