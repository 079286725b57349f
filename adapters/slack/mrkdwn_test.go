package slack

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestToMrkdwn(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"bold", "a **b** c", "a *b* c"},
		{"bold underscores", "__b__", "*b*"},
		{"italic", "an *it* word", "an _it_ word"},
		{"bold and italic", "**B** and *i*", "*B* and _i_"},
		{"strike", "~~gone~~", "~gone~"},
		{"link", "see [docs](https://example.com/a?b=1&c=2)", "see <https://example.com/a?b=1&c=2|docs>"},
		{"link text escaped", "[a <b> & c](https://x.test)", "<https://x.test|a &lt;b&gt; &amp; c>"},
		{"image", "![logo](https://x.test/l.png)", "<https://x.test/l.png|logo>"},
		{"autolink", "<https://x.test>", "<https://x.test>"},
		{"look-alike URL text not a link", "[https://paypal.com/login](https://evil.example/x)", "https://paypal.com/login (<https://evil.example/x>)"},
		{"look-alike domain text not a link", "[paypal.com](https://evil.example)", "paypal.com (<https://evil.example>)"},
		{"domain inside text not a link", "[log in at www.bank.example now](https://bank.example.evil.test)", "log in at www.bank.example now (<https://bank.example.evil.test>)"},
		{"e-mail text not a link", "[ceo@bank.example](mailto:x@evil.example)", "ceo@bank.example (<mailto:x@evil.example>)"},
		{"matching domain text is a link", "[example.com](https://www.example.com/a)", "<https://www.example.com/a|example.com>"},
		{"parent domain text is a link", "[example.com docs](https://docs.example.com)", "<https://docs.example.com|example.com docs>"},
		{"autolink look-alike", "<https://evil.example|paypal.com>", "&lt;https://evil.example|paypal.com&gt;"},
		{"javascript link refused", "[x](javascript:alert(1))", "[x](javascript:alert(1))"},
		{"slack link refused", "[x](slack://open)", "x (slack://open)"},
		{"heading", "## Fares **today**", "*Fares today*"},
		{"heading closed", "# Title #", "*Title*"},
		{"heading ending in hash", "## About C#", "*About C#*"},
		{"bullets", "- one\n* two\n+ three", "• one\n• two\n• three"},
		{"nested bullet", "- a\n  - b", "• a\n    • b"},
		{"task list", "- [ ] todo\n- [x] done", "• ☐ todo\n• ☑ done"},
		{"ordered", "1. first\n2) second", "1. first\n2. second"},
		{"quote", "> said **this**", "> said *this*"},
		{"rule", "---", "──────────"},
		{"code span kept", "use `**raw** <x>`", "use `**raw** &lt;x&gt;`"},
		{"code block kept", "```go\nx := **y** < 3\n```", "```\nx := **y** &lt; 3\n```"},
		{"unclosed fence closed", "```\ncode", "```\ncode\n```"},
		{"tilde fence", "~~~\na\n~~~", "```\na\n```"},
		{"table to code", "| a | b |\n|---|---|\n| 1 | 2 |\nafter", "```\n| a | b |\n|---|---|\n| 1 | 2 |\n```\nafter"},
		{"mentions neutralised", "hi <!channel> <@U123> &", "hi &lt;!channel&gt; &lt;@U123&gt; &amp;"},
		{"snake_case untouched", "call get_fare_now", "call get_fare_now"},
		{"multiplication untouched", "2 * 3 * 4", "2 * 3 * 4"},
		{"crlf", "a\r\nb", "a\nb"},
		{"nul dropped", "a\x00b", "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := toMrkdwn(tt.in); got != tt.want {
				t.Errorf("toMrkdwn(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	para := strings.Repeat("word ", 50) // 250 chars
	tests := []struct {
		name string
		in   string
		max  int
		want int // pieces
	}{
		{"short", "hello", 100, 1},
		{"paragraphs", para + "\n\n" + para + "\n\n" + para, 600, 2},
		{"one long line", strings.Repeat("x", 250), 100, 3},
		{"code block reopened", "```\n" + strings.Repeat("line\n", 60) + "```", 100, 4},
		{"emoji counted twice", strings.Repeat("😀", 60), 100, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := split(tt.in, tt.max)
			if len(got) != tt.want {
				t.Errorf("%d pieces, want %d: %q", len(got), tt.want, got)
			}
			for _, p := range got {
				if textLen(p) > tt.max {
					t.Errorf("piece of %d > %d", textLen(p), tt.max)
				}
				if !utf8.ValidString(p) {
					t.Errorf("invalid UTF-8 piece %q", p)
				}
				if strings.Count(p, "```")%2 != 0 {
					t.Errorf("unbalanced fence in %q", p)
				}
			}
			joined := strings.Join(got, "")
			for _, w := range strings.Fields(tt.in) {
				if w != "```" && !strings.Contains(joined, w) {
					t.Errorf("lost %q", w)
				}
			}
		})
	}
}

func TestSplitPlainIsLossless(t *testing.T) {
	for _, in := range []string{"", "a", strings.Repeat("ab\n", 1000), strings.Repeat("é😀 ", 900), " lead and trail \n"} {
		got := splitPlain(in, 100)
		if strings.Join(got, "") != in {
			t.Errorf("splitPlain lost bytes of %q", in[:min(len(in), 20)])
		}
		for _, p := range got {
			if textLen(p) > 100 || p == "" {
				t.Errorf("bad piece %q", p)
			}
		}
	}
}

func TestMessagesRespectLimits(t *testing.T) {
	line := strings.Repeat("abc ", 24) + "\n" // 97 chars
	text := strings.Repeat(line, 1000)        // ~97 000 chars
	msgs := messages(text)
	if len(msgs) < 3 {
		t.Fatalf("%d messages for ~97k characters, want ≥ 3", len(msgs))
	}
	n := 0
	for _, m := range msgs {
		total := 0
		if len(m) > maxBlocks {
			t.Errorf("%d sections in one message", len(m))
		}
		for _, s := range m {
			if textLen(s) > maxSectionText {
				t.Errorf("section of %d characters", textLen(s))
			}
			total += textLen(s)
			n += strings.Count(s, "abc")
		}
		if total > maxMessageText {
			t.Errorf("message of %d characters", total)
		}
	}
	if want := 1000 * 24; n != want {
		t.Errorf("%d words arrived, want %d", n, want)
	}
}

func FuzzToMrkdwn(f *testing.F) {
	for _, s := range []string{"**a** *b* [c](https://d) `e` <!here>", "```\n<x>\n", "| a |\n- [x] y", "> q\n# h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := toMrkdwn(in)
		// Whatever the model writes, it must not produce a Slack special
		// mention (<!channel>, <!here>, <!everyone>) or a user mention.
		if strings.Contains(out, "<!") || strings.Contains(out, "<@") || strings.Contains(out, "<#") {
			t.Fatalf("toMrkdwn(%q) = %q contains a mention", in, out)
		}
		for _, p := range split(out, 200) {
			if textLen(p) > 200 {
				t.Fatalf("piece of %d characters", textLen(p))
			}
		}
	})
}

// BenchmarkRenderAnswer measures converting and splitting a long answer
// (about 20 KB of mixed markdown), the work done per reply.
func BenchmarkRenderAnswer(b *testing.B) {
	var sb strings.Builder
	for i := range 120 {
		sb.WriteString("## Step **" + strings.Repeat("x", i%5) + "**\n- item with [a link](https://example.com/" + strings.Repeat("p", i%9) + ") and `code`\n")
		sb.WriteString("Some *emphasis* and ~~strike~~ text that goes on for a while to fill the line.\n\n")
	}
	md := sb.String()
	b.SetBytes(int64(len(md)))
	b.ReportAllocs()
	for b.Loop() {
		if len(messages(toMrkdwn(md))) == 0 {
			b.Fatal("no output")
		}
	}
}
