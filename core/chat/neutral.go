package chat

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/secgpt-go/secgpt/core/ids"
)

// ErrNotSupported is returned by a capability method of a Conversation
// wrapper (Neutral) when the wrapped conversation lacks that capability.
var ErrNotSupported = errors.New("not supported by this conversation")

// Neutralize makes s safe to show on any surface: every character that can
// change how other text looks instead of being text itself is replaced by
// a visible escape of its code, so the user sees that it was there.
//
// Replaced: C0 controls except newline and tab (ESC starts the terminal
// escape sequences that move the cursor, erase lines, retitle the window
// or draw OSC 8 links; CR returns to the line start to overprint it; BS
// steps back), DEL, C1 controls (U+0080–U+009F: U+009B is a one-byte CSI
// on terminals that accept 8-bit controls), the Unicode bidirectional
// overrides, embeddings, isolates and marks (they reorder a line so it
// reads differently from its bytes), the line and paragraph separators
// (U+2028/U+2029, which some renderers treat as a line break the newline
// rule does not see), and bytes that are not UTF-8 (shown as \xNN).
//
// Kept: newline, since replies are multi-line; tab, since it only moves the
// cursor forward to the next tab stop over blank space and cannot overprint
// or hide anything once CR and BS are escaped. "\r\n" becomes "\n" first,
// so text written on another OS is not littered with \r.
//
// The result never contains a replaced character, and Neutralize is
// idempotent: an escape is plain printable ASCII.
func Neutralize(s string) string {
	if safe(s) {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && unsafeASCII(byte(r)):
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// safe reports whether s needs no change (the common case, without
// allocating).
func safe(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if unsafeASCII(c) {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size <= 1) || unsafeRune(r) {
			return false
		}
		i += size
	}
	return true
}

func unsafeASCII(c byte) bool { return (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f }

func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f: // C1 controls
		return true
	case r == 0x200e || r == 0x200f: // LRM, RLM
		return true
	case r >= 0x202a && r <= 0x202e: // LRE, RLE, PDF, LRO, RLO
		return true
	case r >= 0x2066 && r <= 0x2069: // LRI, RLI, FSI, PDI
		return true
	case r == 0x061c: // ARABIC LETTER MARK
		return true
	case r == 0x2028 || r == 0x2029: // line and paragraph separators
		return true
	}
	return false
}

// NeutralizePrompt returns a copy of p with every string in it (every field of
// a string kind, including ids.AppID and the like, and strings inside any
// slice, array, map, pointer or struct field added later) passed through
// Neutralize. It walks the fields by reflection so that a field added to
// Prompt is covered without anyone remembering to list it here.
func NeutralizePrompt(p Prompt) Prompt {
	v := reflect.ValueOf(&p).Elem()
	neutralValue(v)
	return p
}

// neutralValue rewrites the strings reachable from v in place. Slices,
// maps and pointers are copied first, so the caller's original shares no
// memory that is changed. Time values and other structs with only
// unexported fields are left as they are (they cannot be set).
func neutralValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(Neutralize(v.String()))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				neutralValue(f)
			}
		}
	case reflect.Array:
		for i := range v.Len() {
			neutralValue(v.Index(i))
		}
	case reflect.Slice:
		if v.IsNil() || !v.CanSet() {
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		for i := range c.Len() {
			neutralValue(c.Index(i))
		}
		v.Set(c)
	case reflect.Pointer:
		if v.IsNil() || !v.CanSet() {
			return
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(v.Elem())
		neutralValue(c.Elem())
		v.Set(c)
	case reflect.Map:
		if v.IsNil() || !v.CanSet() {
			return
		}
		c := reflect.MakeMapWithSize(v.Type(), v.Len())
		it := v.MapRange()
		for it.Next() {
			k := reflect.New(v.Type().Key()).Elem()
			k.Set(it.Key())
			neutralValue(k)
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(it.Value())
			neutralValue(e)
			c.SetMapIndex(k, e)
		}
		v.Set(c)
	case reflect.Interface:
		if v.IsNil() || !v.CanSet() {
			return
		}
		e := reflect.New(v.Elem().Type()).Elem()
		e.Set(v.Elem())
		neutralValue(e)
		v.Set(e)
	}
}

// Neutral wraps c so that everything shown through it (reply text, every
// string of a prompt, status text, streamed text, who resolved a prompt)
// is first passed through Neutralize. It is the one place between the
// assistant and every adapter where app-derived text is made unable to
// repaint the screen; the hub applies it to each conversation it is given.
//
// The wrapper offers every optional capability; where c lacks one, the
// method returns ErrNotSupported (callers already treat those as best
// effort). Wrapping twice returns the first wrapper.
func Neutral(c Conversation) Conversation {
	if c == nil {
		return nil
	}
	if n, ok := c.(*neutralConversation); ok {
		return n
	}
	return &neutralConversation{c: c}
}

type neutralConversation struct{ c Conversation }

// Unwrap returns the conversation Neutral wrapped.
func (n *neutralConversation) Unwrap() Conversation { return n.c }

func (n *neutralConversation) Reply(ctx context.Context, text string) error {
	return n.c.Reply(ctx, Neutralize(text))
}

func (n *neutralConversation) Prompt(ctx context.Context, p Prompt) error {
	return n.c.Prompt(ctx, NeutralizePrompt(p))
}

// TakesTypedAnswers passes on whether the wrapped conversation does.
func (n *neutralConversation) TakesTypedAnswers() bool { return TakesTypedAnswers(n.c) }

func (n *neutralConversation) Status(ctx context.Context, text string) error {
	sc, ok := n.c.(StatusConversation)
	if !ok {
		return ErrNotSupported
	}
	return sc.Status(ctx, Neutralize(text))
}

func (n *neutralConversation) Resolved(ctx context.Context, p Prompt, d Decision, by ids.UserID, expired bool) error {
	rc, ok := n.c.(ResolvingConversation)
	if !ok {
		return ErrNotSupported
	}
	return rc.Resolved(ctx, NeutralizePrompt(p), Decision(Neutralize(string(d))), ids.UserID(Neutralize(string(by))), expired)
}

func (n *neutralConversation) StreamReply(ctx context.Context) (ReplyStream, error) {
	sc, ok := n.c.(StreamingConversation)
	if !ok {
		return nil, ErrNotSupported
	}
	s, err := sc.StreamReply(ctx)
	if err != nil {
		return nil, err
	}
	return neutralStream{s}, nil
}

type neutralStream struct{ s ReplyStream }

func (n neutralStream) Update(ctx context.Context, text string) error {
	return n.s.Update(ctx, Neutralize(text))
}

func (n neutralStream) Finish(ctx context.Context, text string) error {
	return n.s.Finish(ctx, Neutralize(text))
}

var (
	_ ResolvingConversation = (*neutralConversation)(nil)
	_ StatusConversation    = (*neutralConversation)(nil)
	_ StreamingConversation = (*neutralConversation)(nil)
)
