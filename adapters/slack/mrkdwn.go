package slack

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/secgpt-go/secgpt/core/chat"
)

// Slack's documented limits, in characters (counted as UTF-16 units, which
// is never fewer than Slack counts).
const (
	maxSectionText = 3000
	maxMessageText = 40000
	maxBlocks      = 50
)

// escape makes text safe for mrkdwn: Slack reads <…> as links and mentions
// (<!channel> pings everyone), so an answer that quotes an app's output must
// not be able to produce them.
func escape(s string) string { return escaper.Replace(s) }

// escaper and the regexps below are immutable once built and safe for
// concurrent use.
var (
	escaper   = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	boldMarks = strings.NewReplacer("**", "", "__", "")
)

var (
	headingRE   = regexp.MustCompile(`^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$`)
	bulletRE    = regexp.MustCompile(`^(\s*)[-*+]\s+(.*)$`)
	taskRE      = regexp.MustCompile(`^\[([ xX])\]\s+(.*)$`)
	orderedRE   = regexp.MustCompile(`^(\s*)(\d{1,9})[.)]\s+(.*)$`)
	quoteRE     = regexp.MustCompile(`^\s{0,3}>\s?(.*)$`)
	ruleRE      = regexp.MustCompile(`^\s{0,3}(?:(?:-\s*){3,}|(?:\*\s*){3,}|(?:_\s*){3,})$`)
	fenceRE     = regexp.MustCompile("^\\s{0,3}(```+|~~~+)")
	tableRowRE  = regexp.MustCompile(`^\s*\|.*\|\s*$`)
	linkRE      = regexp.MustCompile(`!?\[([^\[\]]*)\]\(\s*<?([^\s()<>]+)>?(?:\s+"[^"]*")?\s*\)`)
	autolinkRE  = regexp.MustCompile(`<((?:https?|mailto):[^\s<>|]+)>`)
	boldRE      = regexp.MustCompile(`\*\*([^*\n]+?)\*\*|__([^_\n]+?)__`)
	italicRE    = regexp.MustCompile(`(^|[^\w*])\*([^*\s](?:[^*\n]*?[^*\s])?)\*($|[^\w*])`)
	strikeRE    = regexp.MustCompile(`~~([^~\n]+?)~~`)
	codeSpanRE  = regexp.MustCompile("(`+)([^`]|[^`].*?[^`])(`+)")
	placeholder = regexp.MustCompile("\x00([0-9]+)\x00")
)

// toMrkdwn converts the markdown the hub writes (CommonMark plus GitHub
// tables and strikethrough) to Slack mrkdwn: **bold** → *bold*, *it* → _it_,
// ~~s~~ → ~s~, [t](u) → <u|t>, headings → bold lines, bullets → •, tables
// and code blocks → code blocks. Everything else is escaped text.
func toMrkdwn(md string) string {
	md = strings.ReplaceAll(md, "\x00", "")
	md = strings.ReplaceAll(md, "\r\n", "\n")
	lines := strings.Split(md, "\n")
	out := make([]string, 0, len(lines))
	fence := "" // the opening fence while inside a code block
	inTable := false
	for _, line := range lines {
		if fence != "" {
			if m := fenceRE.FindStringSubmatch(line); m != nil && strings.HasPrefix(m[1], fence[:1]) && len(m[1]) >= len(fence) && strings.TrimSpace(line) == m[1] {
				out = append(out, "```")
				fence = ""
				continue
			}
			out = append(out, escape(line))
			continue
		}
		if m := fenceRE.FindStringSubmatch(line); m != nil {
			if inTable {
				out = append(out, "```")
				inTable = false
			}
			fence = m[1]
			out = append(out, "```")
			continue
		}
		if tableRowRE.MatchString(line) {
			if !inTable {
				out = append(out, "```")
				inTable = true
			}
			out = append(out, escape(strings.TrimSpace(line)))
			continue
		}
		if inTable {
			out = append(out, "```")
			inTable = false
		}
		out = append(out, convertLine(line))
	}
	if fence != "" || inTable {
		out = append(out, "```")
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n ")
}

func convertLine(line string) string {
	// Block markup starts with one of a few characters; skip the block
	// patterns for the usual plain line.
	trimmed := strings.TrimLeft(line, " \t")
	if trimmed == "" {
		return ""
	}
	if c := trimmed[0]; !strings.ContainsRune("-*_#+>0123456789", rune(c)) {
		return inline(line)
	}
	if ruleRE.MatchString(line) {
		return "──────────"
	}
	if m := headingRE.FindStringSubmatch(line); m != nil {
		t := boldMarks.Replace(m[2])
		if t == "" {
			return ""
		}
		return "*" + inline(t) + "*"
	}
	if m := bulletRE.FindStringSubmatch(line); m != nil {
		indent := strings.Repeat("    ", len(strings.ReplaceAll(m[1], "\t", "  "))/2)
		item := m[2]
		if t := taskRE.FindStringSubmatch(item); t != nil {
			box := "☐ "
			if t[1] != " " {
				box = "☑ "
			}
			return indent + "• " + box + inline(t[2])
		}
		return indent + "• " + inline(item)
	}
	if m := orderedRE.FindStringSubmatch(line); m != nil {
		indent := strings.Repeat("    ", len(strings.ReplaceAll(m[1], "\t", "  "))/2)
		return indent + m[2] + ". " + inline(m[3])
	}
	if m := quoteRE.FindStringSubmatch(line); m != nil {
		// Slack quotes with "&gt;"-escaped text would not quote, so keep ">".
		return ">" + " " + inline(m[1])
	}
	return inline(line)
}

// inline converts emphasis, links and code spans within one line.
func inline(s string) string {
	var saved []string
	save := func(v string) string {
		saved = append(saved, v)
		return "\x00" + strconv.Itoa(len(saved)-1) + "\x00"
	}
	// Code spans first: nothing inside them is markup.
	// Each pattern runs only when its marker is present: regexps are the
	// cost of rendering, and most lines hold no markup.
	has := func(marker string) bool { return strings.Contains(s, marker) }
	if has("`") {
		s = codeSpanRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := codeSpanRE.FindStringSubmatch(m)
			if len(sub[1]) != len(sub[3]) {
				return m
			}
			return save("`" + escape(strings.ReplaceAll(sub[2], "`", "ˋ")) + "`")
		})
	}
	if has("](") {
		s = linkRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := linkRE.FindStringSubmatch(m)
			return save(link(sub[2], sub[1]))
		})
	}
	if has("<") {
		s = autolinkRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := autolinkRE.FindStringSubmatch(m)
			return save(link(sub[1], ""))
		})
	}
	s = escape(s)
	if has("**") || has("__") {
		s = boldRE.ReplaceAllStringFunc(s, func(m string) string {
			sub := boldRE.FindStringSubmatch(m)
			return "\x01" + sub[1] + sub[2] + "\x01"
		})
	}
	if has("*") {
		s = italicRE.ReplaceAllString(s, "${1}_${2}_${3}")
	}
	if has("~~") {
		s = strikeRE.ReplaceAllString(s, "~${1}~")
	}
	s = strings.ReplaceAll(s, "\x01", "*")
	if len(saved) == 0 {
		return s
	}
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		i, err := strconv.Atoi(placeholder.FindStringSubmatch(m)[1])
		if err != nil || i >= len(saved) {
			return ""
		}
		return saved[i]
	})
}

// link renders a link; URLs of other schemes become plain text, so a model
// cannot make Slack render e.g. a javascript: or slack:// link.
func link(u, text string) string {
	text = strings.TrimSpace(text)
	lower := strings.ToLower(u)
	if !strings.HasPrefix(lower, "https://") && !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "mailto:") ||
		strings.ContainsAny(u, "<>| \t\n") {
		if text == "" {
			return escape(u)
		}
		return escape(text) + " (" + escape(u) + ")"
	}
	if text == "" || text == u {
		return "<" + u + ">"
	}
	if chat.MisleadingLink(text, u) {
		// "[paypal.com](https://evil.example)" would show paypal.com and
		// go elsewhere: show the text as text, and the real target.
		return escape(text) + " (<" + u + ">)"
	}
	// Within <url|text>, ">" would end the link early; "|" is fine after the first.
	return "<" + u + "|" + escape(text) + ">"
}

// textLen counts s as Slack does at worst (UTF-16 code units).
func textLen(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// split cuts mrkdwn into pieces of at most max characters, preferring
// paragraph breaks, then line breaks, then spaces. A code block cut in two
// is closed at the end of one piece and reopened in the next.
func split(s string, max int) []string {
	const fenceCost = len("\n```") // reserved for closing/reopening a fence
	if max <= 2*fenceCost+8 {
		max = 2*fenceCost + 8
	}
	s = strings.TrimSpace(s)
	var out []string
	reopen := false
	for s != "" {
		budget := max
		prefix := ""
		if reopen {
			prefix = "```\n"
			budget -= len(prefix)
		}
		if textLen(s) <= budget {
			out = append(out, prefix+s)
			break
		}
		budget -= fenceCost
		cut := cutPoint(s, budget)
		piece := strings.TrimRight(s[:cut], " \n")
		s = strings.TrimLeft(s[cut:], " \n")
		inFence := reopen != (strings.Count("\n"+piece, "\n```")%2 == 1)
		if inFence {
			piece += "\n```"
		}
		if strings.TrimSpace(piece) != "" {
			out = append(out, prefix+piece)
		}
		reopen = inFence
	}
	return out
}

// splitPlain cuts s into pieces of at most max characters without changing
// a byte: joined, the pieces are s again.
func splitPlain(s string, max int) []string {
	var out []string
	for s != "" {
		cut := len(s)
		if textLen(s) > max {
			cut = cutPoint(s, max)
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	return out
}

// cutPoint returns a byte index ≤ the first budget characters of s at which
// to cut, preferring the last blank line, then newline, then space in the
// second half of the window.
func cutPoint(s string, budget int) int {
	end, n := 0, 0
	for i, r := range s {
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if n+w > budget {
			break
		}
		n += w
		end = i + utf8.RuneLen(r)
	}
	if end >= len(s) {
		return len(s)
	}
	window := s[:end]
	half := len(window) / 2
	for _, sep := range []string{"\n\n", "\n", " "} {
		if i := strings.LastIndex(window, sep); i > half {
			return i + len(sep)
		}
	}
	if end == 0 {
		_, size := utf8.DecodeRuneInString(s)
		return size
	}
	return end
}

// messages groups mrkdwn into Slack messages: each a list of section texts
// of at most maxSectionText, with at most maxBlocks sections and
// maxMessageText characters per message.
func messages(text string) [][]string {
	sections := split(text, maxSectionText)
	var out [][]string
	var cur []string
	total := 0
	for _, sec := range sections {
		n := textLen(sec)
		// One block of each message is kept for the feedback buttons.
		if len(cur) > 0 && (len(cur) == maxBlocks-1 || total+n > maxMessageText-1000) {
			out = append(out, cur)
			cur, total = nil, 0
		}
		cur = append(cur, sec)
		total += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// fallback is the notification text for a message: its start, plain.
func fallback(s string) string {
	const n = 300
	if textLen(s) <= n {
		return s
	}
	return s[:cutPoint(s, n)] + "…"
}
