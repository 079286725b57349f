package chat

import (
	"regexp"
	"strings"
	"sync"
)

// hostLikeRE finds what a reader would take for a web address or domain in
// link text: an optional scheme, then dot-separated labels ending in a
// label of letters (paypal.com, www.bank.example, https://x.test/a,
// ceo@bank.example). Compiled on first use: every spoke process links
// this package, and the expression is costly to compile.
var hostLikeRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(?:[a-z][a-z0-9+.-]*://)?(?:[^\s/@:<>()\[\]|.]+\.)+\p{L}[\p{L}\p{N}-]*\.?`)
})

// MisleadingLink reports whether a link's text names a host (as a URL, a
// domain or an e-mail address) other than the host of its target u, or a
// parent domain of it: such text tells the reader where the link goes, and
// lies ("[paypal.com](https://evil.example)"). Adapters render such a link
// as its text followed by the real target, never as a link with that text.
func MisleadingLink(text, u string) bool {
	target := urlHost(u)
	for _, m := range hostLikeRE().FindAllString(text, -1) {
		if i := strings.Index(m, "://"); i >= 0 {
			m = m[i+3:]
		}
		named := normHost(m)
		if named != target && !strings.HasSuffix(target, "."+named) {
			return true
		}
	}
	return false
}

// urlHost returns the lower-case host of a URL, or for mailto: the domain
// of the address.
func urlHost(u string) string {
	rest := u
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	} else if len(rest) >= 7 && strings.EqualFold(rest[:7], "mailto:") {
		rest = rest[7:]
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.Contains(rest[i:], "]") {
		rest = rest[:i]
	}
	return normHost(rest)
}

func normHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	return strings.TrimPrefix(h, "www.")
}
