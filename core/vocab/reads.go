package vocab

import (
	"strings"

	"github.com/secgpt-go/secgpt/core/ids"
)

// readsPrefix starts an AllowReads decision.
const readsPrefix = "reads:"

// ReadsFunction is the Function of the stored exec grant that AllowReads
// makes: it covers every function of its app whose operator-declared
// effect is read, in planned steps only. Writes, sends and destroys, and
// calls outside a plan, are still asked.
const ReadsFunction = "*reads"

// AllowReads is a plan prompt's choice "Always allow APP for reads": the
// plan runs once, and app's read-only functions need no prompt from now
// on (a stored grant, listed and revoked like any other). It is offered
// only by a plan prompt whose ReadsApp is app.
func AllowReads(app ids.AppID) Decision { return Decision(readsPrefix + string(app)) }

// ReadsApp returns the app of an AllowReads decision.
func (d Decision) ReadsApp() (ids.AppID, bool) {
	app, ok := strings.CutPrefix(string(d), readsPrefix)
	return ids.AppID(app), ok && app != ""
}
