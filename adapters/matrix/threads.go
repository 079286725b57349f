package matrix

import (
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// relElementThread is the unstable name of m.thread (MSC3440). Clients on a
// homeserver that does not advertise stable threads (spec v1.4; Dendrite
// v0.13 advertises up to v1.2) send it, and show only events with it in the
// thread: an m.thread reply lands outside.
const relElementThread event.RelationType = "io.element.thread"

func isThreadRel(t event.RelationType) bool { return t == event.RelThread || t == relElementThread }

// threadOf returns the thread root of a message in a thread, under either
// relation name, and the name used.
func threadOf(rel *event.RelatesTo) (id.EventID, event.RelationType) {
	if rel != nil && isThreadRel(rel.Type) {
		return rel.EventID, rel.Type
	}
	return "", ""
}

// replyTarget is the event a message really replies to: not the reply
// fallback a thread message carries for clients without threads.
func replyTarget(rel *event.RelatesTo) id.EventID {
	if rel == nil || rel.InReplyTo == nil || (isThreadRel(rel.Type) && rel.IsFallingBack) {
		return ""
	}
	return rel.InReplyTo.EventID
}

// threadRelFor is the relation name for a thread the bot starts: the
// stable one where the homeserver advertises spec v1.4 or later, else the
// unstable one its clients use. An unknown server gets the stable name.
func threadRelFor(v *mautrix.RespVersions) event.RelationType {
	if v != nil && !v.ContainsGreaterOrEqual(mautrix.SpecV14) {
		return relElementThread
	}
	return event.RelThread
}
