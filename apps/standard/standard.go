// Package standard registers the bundled apps: importing it for its side
// effects (import _ ".../apps/standard") makes every built-in app
// available to apps.New. Only the two binaries (cmd/secgpt,
// cmd/secgpt-spoke), core/hubtest (in-process spokes) and tests or the
// evaluation that need the full registry import it.
package standard

import (
	// Each import registers its apps from init.
	_ "github.com/secgpt-go/secgpt/apps/annotate"
	_ "github.com/secgpt-go/secgpt/apps/drive"
	_ "github.com/secgpt-go/secgpt/apps/health"
	_ "github.com/secgpt-go/secgpt/apps/mail"
	_ "github.com/secgpt-go/secgpt/apps/relational"
	_ "github.com/secgpt-go/secgpt/apps/ride"
	_ "github.com/secgpt-go/secgpt/apps/travel"
)
