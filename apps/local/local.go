// Package local registers the bundled apps that need neither the network
// nor programs: their spokes may run in the shared empty network
// namespace, from the smaller spoke binary cmd/secgpt-spoke-local, which
// links only these (not the Google API or MCP clients, whose initialisers
// every spoke start would pay for). apps/standard imports it with the
// others; only it, cmd/secgpt-spoke-local and tests import it.
package local

import (
	// Each import registers its apps from init.
	_ "github.com/secgpt-go/secgpt/apps/annotate"
	_ "github.com/secgpt-go/secgpt/apps/health"
	_ "github.com/secgpt-go/secgpt/apps/relational"
	_ "github.com/secgpt-go/secgpt/apps/ride"
	_ "github.com/secgpt-go/secgpt/apps/travel"
)
