// Package standard registers the bundled apps: importing it for its side
// effects (import _ ".../apps/standard") makes every built-in app
// available to apps.New: those of apps/local and the two that reach
// Google's APIs. Only cmd/secgpt and cmd/secgpt-spoke, core/hubtest
// (in-process spokes) and tests or the evaluation that need the full
// registry import it.
package standard

import (
	// Each import registers its apps from init.
	_ "github.com/secgpt-go/secgpt/apps/drive"
	_ "github.com/secgpt-go/secgpt/apps/local"
	_ "github.com/secgpt-go/secgpt/apps/mail"
)
