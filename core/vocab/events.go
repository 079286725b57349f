package vocab

// AuditType is the type of an audit log entry (state.AuditEvent.Type).
// Stored entries and the audit CLI's filters use these strings, so a
// value never changes once written.
type AuditType string

// Audit entries about permissions, written by the gate.
const (
	// AuditDecision: the outcome of a permission request (a rule, a stored
	// grant, or the user's answer); Decision says which.
	AuditDecision AuditType = "decision"
	// AuditAnswer: a click as the replica that took it recorded it, before
	// it took effect.
	AuditAnswer AuditType = "answer"
	// AuditRefusedAnswer: an answer from someone other than the asked
	// user; it changes nothing.
	AuditRefusedAnswer AuditType = "refused_answer"
)

// Audit entries about data moving between the user, the hub and apps,
// written by the hub's monitor.
const (
	// AuditFlow: data moved into an app (remembered facts, another app's
	// result, a spoke's call and its answer); Detail holds the data.
	AuditFlow AuditType = "flow"
	// AuditBlockedFlow: a flow the monitor stopped (its label was not
	// allowed to reach the target).
	AuditBlockedFlow AuditType = "blocked_flow"
	// AuditMonitorRefused: a call the monitor refused before asking anyone.
	AuditMonitorRefused AuditType = "monitor_refused"
	// AuditModelFilledCall: a call a spoke's model filled in for a plan
	// step, allowed to run.
	AuditModelFilledCall AuditType = "model_filled_call"
	// AuditProbe: a spoke asked whether a function exists.
	AuditProbe AuditType = "probe"
	// AuditCredential: an app was handed a linked account's token for one
	// invocation.
	AuditCredential AuditType = "credential"
	// AuditElicitRefused: an app's question had fields that cannot be asked.
	AuditElicitRefused AuditType = "elicit_refused"
	// AuditElicitAnswered: what the user answered to an app's question.
	AuditElicitAnswered AuditType = "elicit_answered"
)

// Audit entries about spokes and replies, written by the hub.
const (
	// AuditSpokeKilled: a spoke was killed because its invocation ended
	// without an answer (Detail: why).
	AuditSpokeKilled AuditType = "spoke_killed"
	// AuditWarmSpokeEnded: kept-warm spokes were ended (a revoke, a
	// forget, a changed app).
	AuditWarmSpokeEnded AuditType = "warm_spoke_ended"
	// AuditResponderToolCallIgnored: the reply writer asked for tools, which
	// it may not use.
	AuditResponderToolCallIgnored AuditType = "responder_tool_call_ignored"
	// AuditReplySentenceReplaced: sentences of a reply with figures their
	// app did not return were replaced.
	AuditReplySentenceReplaced AuditType = "reply_sentence_replaced"
)

// Audit entries about the user's own commands and accounts.
const (
	// AuditRevoke: the user revoked grants.
	AuditRevoke AuditType = "revoke"
	// AuditForget: the user's data was forgotten (all of it or one app's).
	AuditForget AuditType = "forget"
	// AuditConnect: a linked account's consent link was issued or the
	// account was linked.
	AuditConnect AuditType = "connect"
	// AuditDisconnect: a linked account was unlinked.
	AuditDisconnect AuditType = "disconnect"
)

// Audit entries written by the sandbox's egress proxy.
const (
	// AuditEgress: a spoke reached an allowed host.
	AuditEgress AuditType = "egress"
	// AuditEgressDenied: a spoke was refused a host.
	AuditEgressDenied AuditType = "egress_denied"
)

// TraceType is the type of a hub trace event (hub.TraceEvent.Type): what
// tests, the evaluation harness and metrics watch a turn do. Traces are
// not stored.
type TraceType string

// The hub's trace events.
const (
	// TraceModelRequest: a spoke's model call (Request set).
	TraceModelRequest TraceType = "model_request"
	// TraceResponderRequest: the reply writer's model call (Request set).
	TraceResponderRequest TraceType = "responder_request"
	// TraceModelFilledCall: a spoke's model filled a plan step's call.
	TraceModelFilledCall TraceType = "model_filled_call"
	// TraceStepRun: a plan step's spoke is about to start (Step set).
	TraceStepRun TraceType = "step_run"
	// TraceDirectCall: a plan step calls its function directly (Step set;
	// Detail: "function {args}").
	TraceDirectCall TraceType = "direct_call"
	// TraceAppRequest: a spoke calls another app.
	TraceAppRequest TraceType = "app_request"
	// TraceSpokeStart: a spoke process started (PID set).
	TraceSpokeStart TraceType = "spoke_start"
	// TraceSpokeEnd: a spoke process ended (PID set; Detail: why it was
	// killed, if it was).
	TraceSpokeEnd TraceType = "spoke_end"
	// TraceSpokeReuse: a kept-warm spoke serves another invocation of
	// the same user and app (PID set).
	TraceSpokeReuse TraceType = "spoke_reuse"
	// TraceWarmDrop: kept-warm spokes were dropped (Detail: why).
	TraceWarmDrop TraceType = "warm_drop"
	// TraceWarmEnd: a kept-warm spoke ended.
	TraceWarmEnd TraceType = "warm_end"
	// TraceRequestStart: a request of User began to run as one a forget
	// can stop (a forget handled before this does not stop it).
	TraceRequestStart TraceType = "request_start"
	// TraceUnaudited: an audit entry of type Detail could not be written;
	// what it recorded was refused.
	TraceUnaudited TraceType = "unaudited"
)
