package gate

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// TestRuleConditionsAndServers: argument conditions match the values a
// call would use (deny and ask when any value matches, allow only when all
// do; a value another app's result fills is unknown: it meets a deny or
// ask condition and never an allow), and mcp:SERVER:TOOL matches every
// request that reaches or leaves that MCP server.
func TestRuleConditionsAndServers(t *testing.T) {
	exec := func(target, fn, effect, args string) Request {
		return Request{Kind: chat.KindExec, Target: appID(target), Function: fn, Effect: effect, Args: json.RawMessage(args)}
	}
	tests := []struct {
		name, action, pattern string
		req                   Request
		want                  bool
	}{
		{"deny, one of the recipients", "deny", "send:send_gmail_message(to=*@example.com)",
			exec("send_gmail_message", "send_gmail_message", "send", `{"to":["a@corp.test","b@example.com"]}`), true},
		{"deny, no recipient", "deny", "send:send_gmail_message(to=*@example.com)",
			exec("send_gmail_message", "send_gmail_message", "send", `{"to":["a@corp.test"]}`), false},
		{"deny, string value", "deny", "send:*(to=*@example.com)", exec("x", "x", "send", `{"to":"b@example.com"}`), true},
		{"deny, value from a result", "deny", "send:*(to=*@example.com)", exec("x", "x", "send", `{"to":"<result_1>"}`), true},
		{"deny, argument missing", "deny", "send:*(to=*@example.com)", exec("x", "x", "send", `{"cc":"b@example.com"}`), false},
		{"deny, no arguments known", "deny", "send:*(to=*@example.com)", exec("x", "x", "send", ``), true},
		{"allow, all recipients", "allow", "send:*(to=*@corp.test)", exec("x", "x", "send", `{"to":["a@corp.test","b@corp.test"]}`), true},
		{"allow, one outside", "allow", "send:*(to=*@corp.test)", exec("x", "x", "send", `{"to":["a@corp.test","b@example.com"]}`), false},
		{"allow, value from a result", "allow", "send:*(to=*@corp.test)", exec("x", "x", "send", `{"to":"<result_1>"}`), false},
		{"allow, two conditions", "allow", "exec:ride(start=Main*,end=Elm*)", exec("ride", "ride", "read", `{"start":"Main Street","end":"Elm Avenue"}`), true},
		{"allow, two conditions, one unmet", "allow", "exec:ride(start=Main*,end=Elm*)", exec("ride", "ride", "read", `{"start":"Main Street","end":"Oak Road"}`), false},
		{"number value", "deny", "write:*(amount=1000)", exec("x", "x", "write", `{"amount":1000}`), true},
		{"mcp server, exec", "deny", "mcp:github:*", exec("mcp.github", "create_issue", "destroy", `{}`), true},
		{"mcp server, tool glob", "deny", "mcp:github:delete_*", exec("mcp.github", "create_issue", "destroy", `{}`), false},
		{"mcp server, other server", "deny", "mcp:github:*", exec("mcp.gitlab", "create_issue", "destroy", `{}`), false},
		{"mcp server, data", "deny", "mcp:github:*", Request{Kind: chat.KindData, Target: "mcp.github", Function: "x"}, true},
		{"mcp server, its result leaving", "deny", "mcp:github:*", Request{Kind: chat.KindCollab, Requester: "mcp.github", Target: "send_gmail_message"}, true},
		{"mcp server, not an mcp app", "deny", "mcp:*:*", exec("github", "x", "read", `{}`), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRule(tc.action, tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Matches(tc.req); got != tc.want {
				t.Errorf("%s %s matches %+v: %v, want %v", tc.action, tc.pattern, tc.req, got, tc.want)
			}
		})
	}
}

// TestBadRulesAreRefused: a malformed condition or server pattern is an
// error naming what is wrong.
func TestBadRulesAreRefused(t *testing.T) {
	for _, tc := range []struct{ pattern, want string }{
		{"send:x(to=a", "unclosed"},
		{"send:x(to)", "KEY=GLOB"},
		{"send:x()", "KEY=GLOB"},
		{"send:x(=a)", "KEY=GLOB"},
		{"send:x(to=[)", "bad glob"},
		{"mcp:github", "mcp:SERVER:TOOL"},
		{"mcp::x", "mcp:SERVER:TOOL"},
		{"collab:a->b(to=x)", "conditions"},
	} {
		if _, err := ParseRule("deny", tc.pattern); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.pattern, err, tc.want)
		}
	}
}

func appID(s string) ids.AppID { return ids.AppID(s) }

// FuzzRule: any pattern either parses or is refused with an error, and a
// parsed rule matches any request (arguments of any shape) without
// panicking; a deny or ask rule with conditions matches whatever an allow
// rule with the same pattern matches (conditions only make allow
// stricter).
func FuzzRule(f *testing.F) {
	for _, s := range []string{"send:send_gmail_message(to=*@example.com)", "mcp:github:*", "collab:a->b", "exec:x(a=1,b=[a-z]*)", "write:*(x=<result_1>)"} {
		f.Add(s, `{"to":["a@example.com","b@corp.test"]}`)
	}
	f.Add("send:*(to=*)", `{"to":"<result_2>"}`)
	f.Add("destroy:*(n=1)", `[1,2]`)
	f.Fuzz(func(t *testing.T, pattern, args string) {
		allow, err := ParseRule("allow", pattern)
		if err != nil {
			return
		}
		deny, err := ParseRule("deny", pattern)
		if err != nil {
			t.Fatalf("%q parses as allow, not as deny: %v", pattern, err)
		}
		for _, k := range []chat.Kind{chat.KindExec, chat.KindData, chat.KindCollab} {
			for _, eff := range []string{"", "read", "write", "send", "destroy"} {
				r := Request{Kind: k, Requester: "mcp.github", Target: "send_gmail_message", Function: "send_gmail_message", Effect: eff, Args: json.RawMessage(args)}
				if allow.Matches(r) && !deny.Matches(r) {
					t.Fatalf("%q: allow matches %+v, deny does not", pattern, r)
				}
			}
		}
	})
}
