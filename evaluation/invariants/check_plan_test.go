package invariants

import (
	"fmt"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/gate"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/isc"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// execShownAudit records an allowing exec decision that showed fn and args.
func (s *script) execShownAudit(app, fn, args string) {
	s.audit(state.AuditEvent{User: alice, Type: vocab.AuditDecision, Kind: chat.KindExec, App: appID(app), Decision: string(chat.AllowOnce),
		Detail: "plan prompt answered by inv:alice; data: Function: " + fn + "\nInstruction: run\nArguments: " + args})
}

func modelCalls(calls string) string { return `{"tool_calls":[` + calls + `]}` }

// TestCheckPlanConformance: I7 finds a call that no decision showed (a
// model's call of another function, a changed or added argument, a direct
// call of a function the decision did not name) and accepts what one did.
func TestCheckPlanConformance(t *testing.T) {
	tests := []struct {
		name  string
		build func(s *script)
		want  string // a cause, "" for none
	}{
		{"direct call as shown", func(s *script) {
			s.spoke(1, alice, appB)
			s.execShownAudit("inv_bravo", "inv_bravo_run", `{"seed":1,"data":"x"}`)
			s.in(1, appB, isc.KindInit, `{"app":"inv_bravo","task":{"instruction":"run","function":"inv_bravo_run","args":{"data":"x","seed":1},"direct":true}}`)
		}, ""},
		{"direct call of another function", func(s *script) {
			s.spoke(1, alice, appB)
			s.execShownAudit("inv_bravo", "inv_bravo_run", `{"seed":1}`)
			s.in(1, appB, isc.KindInit, `{"app":"inv_bravo","task":{"instruction":"run","function":"inv_bravo_wipe","args":{"seed":1},"direct":true}}`)
		}, "direct call"},
		{"model fills a result's place", func(s *script) {
			s.spoke(1, alice, appB)
			s.execShownAudit("inv_bravo", "inv_bravo_run", `{"seed":"<result_1>","data":"x"}`)
			s.in(1, appB, isc.KindModelResponse, modelCalls(`{"id":"1","name":"inv_bravo_run","arguments":{"seed":7,"data":"x"}}`))
		}, ""},
		{"model calls another function", func(s *script) {
			s.spoke(1, alice, appB)
			s.execShownAudit("inv_bravo", "inv_bravo_run", `{"seed":"<result_1>"}`)
			s.in(1, appB, isc.KindModelResponse, modelCalls(`{"id":"1","name":"inv_bravo_wipe","arguments":{"seed":7}}`))
		}, "model-filled call"},
		{"model changes a shown value", func(s *script) {
			s.spoke(1, alice, appB)
			s.execShownAudit("inv_bravo", "inv_bravo_run", `{"seed":"<result_1>","data":"x"}`)
			s.in(1, appB, isc.KindModelResponse, modelCalls(`{"id":"1","name":"inv_bravo_run","arguments":{"seed":7,"data":"y"}}`))
		}, "model-filled call"},
		{"model adds an argument", func(s *script) {
			s.spoke(1, alice, appB)
			s.execShownAudit("inv_bravo", "inv_bravo_run", `{"seed":"<result_1>"}`)
			s.in(1, appB, isc.KindModelResponse, modelCalls(`{"id":"1","name":"inv_bravo_run","arguments":{"seed":7,"data":"y"}}`))
		}, "model-filled call"},
		{"another app's tool in the answer", func(s *script) {
			s.spoke(1, alice, appNote)
			s.in(1, appNote, isc.KindModelResponse, modelCalls(`{"id":"1","name":"inv_alpha_run","arguments":{"seed":7}}`))
		}, ""},
		{"decision for another user", func(s *script) {
			s.spoke(1, bob, appB)
			s.execShownAudit("inv_bravo", "inv_bravo_run", `{"seed":1}`)
			s.in(1, appB, isc.KindInit, `{"app":"inv_bravo","task":{"instruction":"run","function":"inv_bravo_run","args":{"seed":1},"direct":true}}`)
		}, "direct call"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{}
			tt.build(s)
			var got []string
			checkPlanConformance(s.evs, func(inv, format string, a ...any) {
				if inv != InvPlan {
					t.Errorf("reported as %s", inv)
				}
				got = append(got, strings.SplitN(sprintf(format, a...), ":", 2)[0])
			})
			if tt.want == "" && len(got) > 0 || tt.want != "" && (len(got) != 1 || got[0] != tt.want) {
				t.Fatalf("violations %v, want %q", got, tt.want)
			}
		})
	}
}

// TestCheckRuleConformance: I8 finds a decision or a run against a rule,
// and a canary that reached an app a deny collab rule keeps it from,
// through whatever app it came.
func TestCheckRuleConformance(t *testing.T) {
	rule := func(a, p string) gate.Rule {
		r, err := gate.ParseRule(a, p)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name  string
		rules []gate.Rule
		build func(s *script)
		want  string
	}{
		{"canary through an intermediate app", []gate.Rule{rule("deny", "collab:inv_alpha->inv_charlie")}, func(s *script) {
			s.spoke(1, alice, appB)
			s.spoke(2, alice, appC)
			s.in(1, appB, isc.KindInit, initBody(appB, "inv_bravo_run", `{"seed":1,"data":"`+tokA+`"}`))
			s.in(2, appC, isc.KindInit, initBody(appC, "inv_charlie_run", `{"seed":1,"data":"`+tokA+` CNRYB0123456789"}`))
		}, "data reached an app a rule keeps it from"},
		{"canary the app sent itself", []gate.Rule{rule("deny", "collab:inv_alpha->inv_charlie")}, func(s *script) {
			s.spoke(2, alice, appC)
			s.out(2, appC, isc.KindModelRequest, `{"messages":[{"role":"user","content":"`+tokA+`"}]}`)
			s.in(2, appC, isc.KindMemory, `{"entries":[{"role":"user","content":"`+tokA+`"}]}`)
		}, ""},
		{"allowed decision against a deny", []gate.Rule{rule("deny", "send:*")}, func(s *script) {
			s.audit(state.AuditEvent{User: alice, Type: vocab.AuditDecision, Kind: chat.KindExec, App: appC, Decision: "once",
				Detail: "data: Function: inv_charlie_run\nArguments: {\"seed\":1}"})
		}, "decision allows what a rule denies"},
		{"grant against an ask", []gate.Rule{rule("ask", "collab:inv_alpha->inv_bravo")}, func(s *script) {
			s.audit(state.AuditEvent{User: alice, Type: vocab.AuditDecision, Kind: chat.KindCollab, App: appB, Requester: appA, Decision: "grant:always"})
		}, "grant decides what a rule asks"},
		{"run against an argument condition", []gate.Rule{rule("deny", "write:inv_bravo_run(data=*qz*)")}, func(s *script) {
			s.spoke(1, alice, appB)
			s.in(1, appB, isc.KindInit, `{"app":"inv_bravo","task":{"instruction":"run","function":"inv_bravo_run","args":{"seed":1,"data":"my qzabc 1234"},"direct":true}}`)
		}, "ran what a rule denies"},
		{"the reads server's read is no destroy", []gate.Rule{rule("deny", "destroy:*")}, func(s *script) {
			s.spoke(1, alice, appSrv)
			s.in(1, appSrv, isc.KindInit, `{"app":"inv.srv","task":{"instruction":"run","function":"srv__read","args":{"seed":1},"direct":true}}`)
		}, ""},
		{"the reads server's write against a deny of writes", []gate.Rule{rule("deny", "write:*")}, func(s *script) {
			s.spoke(1, alice, appSrv)
			s.in(1, appSrv, isc.KindInit, `{"app":"inv.srv","task":{"instruction":"run","function":"srv__write","args":{"seed":1},"direct":true}}`)
		}, "ran what a rule denies"},
		{"run outside the condition", []gate.Rule{rule("deny", "write:inv_bravo_run(data=*qz*)")}, func(s *script) {
			s.spoke(1, alice, appB)
			s.in(1, appB, isc.KindInit, `{"app":"inv_bravo","task":{"instruction":"run","function":"inv_bravo_run","args":{"seed":1,"data":"plain"},"direct":true}}`)
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{}
			tt.build(s)
			var got []string
			checkRuleConformance(s.evs, tt.rules, func(inv, format string, a ...any) {
				got = append(got, strings.SplitN(sprintf(format, a...), ":", 2)[0])
			})
			if tt.want == "" && len(got) > 0 || tt.want != "" && (len(got) != 1 || got[0] != tt.want) {
				t.Fatalf("violations %v, want %q", got, tt.want)
			}
		})
	}
}

// TestDrawRules: every rule of the pool parses, and episodes draw rule
// sets of several shapes.
func TestDrawRules(t *testing.T) {
	none, some := 0, 0
	for es := uint64(0); es < 200; es++ {
		if len(drawRules(es)) == 0 {
			none++
		} else {
			some++
		}
	}
	if none == 0 || some == 0 {
		t.Fatalf("rule sets: %d empty, %d not", none, some)
	}
}

func appID(s string) ids.AppID { return ids.AppID(s) }

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
