// Package isc is the inter-spoke communication protocol between the hub and a
// spoke process: typed messages in length-prefixed JSON frames over the
// socketpair the spoke inherits as fd 3.
//
// The protocol is strictly request/response from the spoke's side: after the
// hub's Init, the spoke sends one request (probe, app request, model call,
// memory or state access) and waits for the hub's answer, until it sends its
// Final (or Error) frame and exits (or, when the Init said Warm, sends Ready
// again and waits for the next Init of the same app). The hub knows which spoke speaks from the
// connection it reads; no message carries a sender field, so a spoke cannot
// claim to be another.
//
// Imported by the hub side (core/hub, core/hubtest, evaluation/invariants,
// which reads frames off spoke sockets), the spoke side (core/spoke,
// core/spoke/inproc, apps/mcp), ops/connect and cli/ (the
// credential a spoke receives) and tests.
package isc

import (
	"encoding/json"
	"fmt"
	"time"
)

// ProtocolVersion numbers the frames' shapes. A hub refuses a separately
// built spoke binary (cmd/secgpt-spoke) that speaks another version, so
// bump it with any change a spoke of the previous version would
// misunderstand: a new kind the spoke must answer, a renamed or retyped
// field.
const ProtocolVersion = 1

// Kind is the type of a frame's body.
type Kind string

// Frame kinds. The first group are those of the original SecGPT; the rest
// carry the spoke's model calls, memory and app state through the hub.
const (
	// Spoke → hub.
	KindReady        Kind = "ready"          // body: Ready
	KindProbe        Kind = "probe_request"  // body: Probe
	KindAppRequest   Kind = "app_request"    // body: AppRequest
	KindFinal        Kind = "final_response" // body: Final
	KindModelRequest Kind = "model_request"  // body: llm.Request
	KindMemoryRead   Kind = "memory_read"    // body: MemoryRead
	KindMemoryWrite  Kind = "memory_write"   // body: MemoryWrite
	KindStateGet     Kind = "state_get"      // body: StateGet
	KindStatePut     Kind = "state_put"      // body: StatePut
	KindSpokeError   Kind = "spoke_error"    // body: ErrorBody; the spoke gives up
	KindLog          Kind = "log"            // body: Log; no answer expected
	KindProgress     Kind = "progress"       // body: Progress; no answer expected
	KindElicit       Kind = "elicit_request" // body: Elicit; a question for the user

	// Hub → spoke.
	KindInit          Kind = "init"                  // body: Init
	KindProbeResponse Kind = "probe_response"        // body: ProbeResponse
	KindNoSuch        Kind = "no_such_functionality" // body: NoSuch
	KindAppResponse   Kind = "app_response"          // body: AppResponse
	KindDenial        Kind = "denial"                // body: Denial
	KindModelResponse Kind = "model_response"        // body: llm.Response
	KindMemory        Kind = "memory"                // body: Memory
	KindStateValue    Kind = "state_value"           // body: StateValue
	KindOK            Kind = "ok"                    // body: empty object
	KindHubError      Kind = "hub_error"             // body: ErrorBody
	KindElicitResult  Kind = "elicit_result"         // body: ElicitResult
)

// FromSpoke reports whether k may be sent by a spoke.
func (k Kind) FromSpoke() bool {
	switch k {
	case KindReady, KindProbe, KindAppRequest, KindFinal, KindModelRequest,
		KindMemoryRead, KindMemoryWrite, KindStateGet, KindStatePut, KindSpokeError, KindLog, KindProgress, KindElicit:
		return true
	}
	return false
}

// FromHub reports whether k may be sent by the hub.
func (k Kind) FromHub() bool {
	switch k {
	case KindInit, KindProbeResponse, KindNoSuch, KindAppResponse, KindDenial,
		KindModelResponse, KindMemory, KindStateValue, KindOK, KindHubError, KindElicitResult:
		return true
	}
	return false
}

// Frame is one message on the wire.
type Frame struct {
	Kind Kind            `json:"kind"`
	Body json.RawMessage `json:"body"`
}

// Ready is the spoke's first frame: it is up and its sandbox is in force.
type Ready struct {
	PID int `json:"pid"`
}

// Task is what a spoke is asked to do.
type Task struct {
	// Instruction is the step's request in words, written by the planner.
	Instruction string `json:"instruction"`
	// Function is the functionality to use; "" for annotation apps.
	Function string `json:"function,omitempty"`
	// Args are the planner's arguments for Function (already validated
	// against its request schema, with permitted results substituted).
	Args json.RawMessage `json:"args,omitempty"`
	// Direct: call Function with Args and answer with its result, with no
	// model turn (the arguments validated after substitution).
	Direct bool `json:"direct,omitempty"`
	// ResultOnly: the model fills Function's arguments from the task; the
	// function's first successful result is the answer, with no further
	// model turn (the hub's responder writes the words).
	ResultOnly bool `json:"result_only,omitempty"`
}

// CallInstruction is the instruction of the task a callee runs for
// another app's unplanned call (app_request) through the hub: what the
// callee's model reads, and what tells such a start from a plan step's,
// whose instruction the planner wrote (the invariant harness tells them
// apart by it, since a step may run the same function with the same
// arguments as a call still waiting for its prompt).
func CallInstruction(function, caller string) string {
	return fmt.Sprintf("Run %s with the given arguments (requested by app %s through the hub).", function, caller)
}

// Init starts a spoke's work. The app's spec is compiled into the spoke
// binary; the hub names the app but never sends code or descriptions.
type Init struct {
	App  string `json:"app"`
	Task Task   `json:"task"`
	// Others are the names of the other installed apps' functionalities. The
	// spoke sees names only; it learns a schema only through a probe.
	Others []string `json:"others,omitempty"`
	// Config is the app's own configuration from the hub's config file.
	Config json.RawMessage `json:"config,omitempty"`
	// MaxSteps bounds the spoke's agent loop.
	MaxSteps int `json:"max_steps"`
	// Credential is the user's linked-account access token for this one
	// invocation, set only for an app the operator lets use that account
	// (ops/connect). It is never a refresh token: it expires on its own
	// and the spoke dies with the invocation.
	Credential *Credential `json:"credential,omitempty"`
	// Warm says the hub may reuse this spoke for the next invocation of
	// the same app for the same user: after its Final the spoke sends
	// Ready again and waits for another Init (or the end of the
	// connection). Without it the spoke exits after its Final.
	Warm bool `json:"warm,omitempty"`
}

// Credential is a short-lived OAuth access token of the user's linked
// account. It must never be logged.
type Credential struct {
	// Provider names the account's service ("google").
	Provider    string    `json:"provider"`
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type,omitempty"`
	Expiry      time.Time `json:"expiry,omitzero"`
}

// Probe asks for another functionality's request schema.
type Probe struct {
	Function string `json:"function"`
}

// ProbeResponse returns the schema of a functionality that exists.
type ProbeResponse struct {
	Function    string          `json:"function"`
	App         string          `json:"app"`
	Description string          `json:"description,omitempty"`
	Request     json.RawMessage `json:"request"`
}

// NoSuch answers a probe or request for a functionality that is not installed.
type NoSuch struct {
	Function string `json:"function"`
}

// AppRequest asks the hub to run another app's functionality.
type AppRequest struct {
	Function string          `json:"function"`
	Args     json.RawMessage `json:"args"`
}

// AppResponse is the other app's answer, validated against its response schema.
type AppResponse struct {
	Function string          `json:"function"`
	Result   json.RawMessage `json:"result"`
}

// Denial says the user (or the hub's policy) refused a request.
type Denial struct {
	Reason string `json:"reason"`
}

// Final is the spoke's answer to its Task.
type Final struct {
	// Text is the answer in words.
	Text string `json:"text"`
	// Result is the functionality's structured result, if one was produced
	// (validated by the hub against the response schema).
	Result json.RawMessage `json:"result,omitempty"`
}

// MemoryRead asks for the spoke's own app's conversation memory for its user.
type MemoryRead struct {
	Limit int `json:"limit"`
}

// MemoryEntry is one remembered exchange.
type MemoryEntry struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Memory answers a MemoryRead.
type Memory struct {
	Entries []MemoryEntry `json:"entries"`
}

// MemoryWrite appends to the spoke's own app's memory for its user.
type MemoryWrite struct {
	Entries []MemoryEntry `json:"entries"`
}

// StateGet reads one key of the app's own state for its user.
type StateGet struct {
	Key string `json:"key"`
}

// StateValue answers a StateGet.
type StateValue struct {
	Found bool            `json:"found"`
	Value json.RawMessage `json:"value,omitempty"`
}

// StatePut writes one key of the app's own state for its user.
type StatePut struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// ErrorBody carries an error message.
type ErrorBody struct {
	Message string `json:"message"`
}

// Log is a diagnostic line from the spoke, logged by the hub with the
// spoke's identity attached.
type Log struct {
	Message string `json:"message"`
}

// Progress reports how far a long call of the spoke has come (an MCP
// server's progress notifications). Numbers only: no text of the app's
// reaches the chat through it.
type Progress struct {
	Done  float64 `json:"done"`
	Total float64 `json:"total,omitempty"`
}

// Elicit is an app's question for its user (an MCP server's elicitation
// request): the server's message and the schema of the answer it wants.
// Both are the app's text; the hub shows them as such.
type Elicit struct {
	Message string          `json:"message"`
	Schema  json.RawMessage `json:"schema,omitempty"`
}

// ElicitResult is the user's answer to an Elicit: the action (accept,
// decline or cancel) and, for accept, the field values the user chose.
// Nothing in Content comes from anywhere but the user's answer.
type ElicitResult struct {
	Action  string         `json:"action"`
	Content map[string]any `json:"content,omitempty"`
	// Note says why the hub answered without asking (fields it cannot ask
	// for); it goes back to the server as the error of its request.
	Note string `json:"note,omitempty"`
}
