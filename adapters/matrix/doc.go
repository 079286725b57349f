// Package matrix is the Matrix platform adapter: it logs a bot account in to a
// homeserver with mautrix-go, joins rooms it is invited to by allowed users,
// turns messages addressed to the bot into chat.Message values for a
// chat.Assistant (the hub), posts answers in the message's thread, and shows
// permission prompts as messages the asked user answers with one reaction or
// a short text reply.
//
// End-to-end encryption is compiled in with the goolm build tag (pure Go) or
// the libolm tag (cgo + libolm); without either the adapter works in
// unencrypted rooms only and says so in encrypted ones. See docs/matrix.md.
//
// Only cli/ wiring imports this package; tests drive it against a real
// homeserver through the internal/matrixtest helper.
package matrix
