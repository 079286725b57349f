package chat

import (
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/vocab"
)

// ReadsFunction is the Function of the stored exec grant that AllowReads
// makes (vocab.ReadsFunction).
const ReadsFunction = vocab.ReadsFunction

// AllowReads is a plan prompt's choice "Always allow APP for reads"
// (vocab.AllowReads).
func AllowReads(app ids.AppID) Decision { return vocab.AllowReads(app) }
