package hub

import (
	"encoding/json"
	"testing"

	"github.com/secgpt-go/secgpt/apps"
)

// FuzzLeaseDiffers: a model's arguments of any shape are compared with the
// planned ones without panicking; the planned arguments themselves never
// differ from the plan, and a model's call differs whenever it changes a
// planned literal value.
func FuzzLeaseDiffers(f *testing.F) {
	f.Add(`{"user":"<result_1>","channel":"general"}`, `{"user":"Charlie","channel":"general"}`)
	f.Add(`{"to":["a@b.example"],"n":1}`, `{"to":["a@b.example"],"n":1.0}`)
	f.Add(`{}`, `[1]`)
	f.Add(`null`, `{"x":"<result_1>"}`)
	f.Fuzz(func(t *testing.T, planned, got string) {
		l := newLease(1, apps.Function{Name: "f", Effect: apps.EffectWrite}, json.RawMessage(planned), true)
		_ = l.differs(json.RawMessage(got))
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(planned), &m) != nil || m == nil {
			return
		}
		if d := l.differs(json.RawMessage(planned)); len(d) > 0 {
			t.Fatalf("the planned arguments %s differ from themselves: %v", planned, d)
		}
		for k, v := range l.fixed {
			changed := map[string]json.RawMessage{}
			for k2, v2 := range m {
				changed[k2] = v2
			}
			changed[k] = json.RawMessage(`"` + "zz-changed-" + k + `"`)
			if jsonEqual(changed[k], v) {
				continue
			}
			b, _ := json.Marshal(changed)
			if len(l.differs(b)) == 0 {
				t.Fatalf("changing %s of %s went unnoticed", k, planned)
			}
		}
	})
}
