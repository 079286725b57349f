package invariants

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
)

// memoryReadBack is how many of an app's newest memory entries a spoke can
// read back (core/hub maxMemoryRead): older ones never reach an app again.
const memoryReadBack = 50

// checkForgottenFacts is I3's check "forget fact, kept data", made on the
// episode's store once it has ended: after the hub replied that it forgot
// a fact ("Forgotten: your fact KEY"), and unless it remembered the fact
// again since, no label of the user's kept data (a memory entry an app can
// read back, a state namespace's label set) names it. The hub deletes the
// data of every app whose label names the fact, since a forgotten key
// resolves to nothing and a copy left behind would no longer be guarded
// as the fact.
func checkForgottenFacts(ctx context.Context, st state.Store, cat *apps.Catalog, evs []*event, add func(inv, format string, a ...any)) {
	type userKey struct {
		user ids.UserID
		key  string
	}
	gone := map[userKey]int64{} // → seq of the reply
	for _, e := range evs {
		switch e.kind {
		case evReply:
			for _, k := range forgottenKeys(e.text) {
				gone[userKey{e.user, k}] = e.seq
			}
		case evEntities:
			for k := range e.facts {
				delete(gone, userKey{e.user, k})
			}
		}
	}
	for uk, at := range gone {
		for _, id := range cat.IDs() {
			es, err := st.ReadMemory(ctx, uk.user, id, memoryReadBack)
			if err != nil {
				add(InvLive, "read %s's memory of %s after the episode: %v", uk.user, id, err)
				return
			}
			for _, e := range es {
				if slices.Contains(e.FactKeys, uk.key) {
					add(InvData, "forget fact, kept data: after %s was told the fact %s was forgotten (#%d), %s's memory still holds an entry labelled with it", uk.user, uk.key, at, id)
					break
				}
			}
			a, _ := cat.App(id)
			ns := a.Spec().Namespace()
			raw, ok, err := st.GetAppState(ctx, uk.user, labelNamespacePrefix+ns, "label")
			if err != nil {
				add(InvLive, "read %s's label of %s after the episode: %v", uk.user, ns, err)
				return
			}
			var members []string
			if ok && json.Unmarshal(raw, &members) == nil && slices.Contains(members, "fact:"+uk.key) {
				add(InvData, "forget fact, kept data: after %s was told the fact %s was forgotten (#%d), %s's state namespace %s is still labelled with it", uk.user, uk.key, at, id, ns)
			}
		}
	}
}
