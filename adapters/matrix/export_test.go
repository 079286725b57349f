package matrix

// VerificationTxnEvent exposes verificationTxnEvent to the external tests'
// own verifying client, which needs the same workaround.
var VerificationTxnEvent = verificationTxnEvent
