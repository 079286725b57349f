package matrix

import (
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

func TestThreadRelations(t *testing.T) {
	thread := func(rel event.RelationType, falling bool) *event.RelatesTo {
		return &event.RelatesTo{Type: rel, EventID: "$root", InReplyTo: &event.InReplyTo{EventID: "$last"}, IsFallingBack: falling}
	}
	tests := []struct {
		name      string
		rel       *event.RelatesTo
		wantRoot  id.EventID
		wantType  event.RelationType
		wantReply id.EventID
	}{
		{"none", nil, "", "", ""},
		{"plain reply", (&event.RelatesTo{}).SetReplyTo("$p"), "", "", "$p"},
		{"stable thread, fallback reply", thread(event.RelThread, true), "$root", event.RelThread, ""},
		{"unstable thread, fallback reply", thread(relElementThread, true), "$root", relElementThread, ""},
		{"unstable thread, real reply", thread(relElementThread, false), "$root", relElementThread, "$last"},
		{"an edit is no thread", &event.RelatesTo{Type: event.RelReplace, EventID: "$x"}, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, typ := threadOf(tt.rel)
			if root != tt.wantRoot || typ != tt.wantType {
				t.Errorf("threadOf = %q, %q; want %q, %q", root, typ, tt.wantRoot, tt.wantType)
			}
			if got := replyTarget(tt.rel); got != tt.wantReply {
				t.Errorf("replyTarget = %q, want %q", got, tt.wantReply)
			}
		})
	}
	for _, tt := range []struct {
		versions []string
		want     event.RelationType
	}{
		{[]string{"v1.1", "v1.2"}, relElementThread},
		{[]string{"v1.2", "v1.4"}, event.RelThread},
		{[]string{"v1.11"}, event.RelThread},
	} {
		v := &mautrix.RespVersions{}
		for _, s := range tt.versions {
			v.Versions = append(v.Versions, mautrix.MustParseSpecVersion(s))
		}
		if got := threadRelFor(v); got != tt.want {
			t.Errorf("threadRelFor(%v) = %q, want %q", tt.versions, got, tt.want)
		}
	}
	if got := threadRelFor(nil); got != event.RelThread {
		t.Errorf("threadRelFor(nil) = %q", got)
	}
}
