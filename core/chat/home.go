package chat

import "github.com/secgpt-go/secgpt/core/ids"

// GrantInfo is one stored permission as data, for surfaces that list
// grants with controls (Slack's Home tab) rather than showing the !grants
// text.
type GrantInfo struct {
	Kind Kind `json:"kind"`
	// App is the app the permission is for; RevokeGrants(App) deletes it.
	App ids.AppID `json:"app"`
	// Requester is set for collab grants: the app whose output or call
	// goes to App.
	Requester ids.AppID `json:"requester,omitempty"`
	// Function is App's function, when the grant names one.
	Function string `json:"function,omitempty"`
	// Session is true for "for this session" grants, false for "always".
	Session bool `json:"session,omitempty"`
	// Unplanned is set for grants given to calls outside a plan.
	Unplanned bool `json:"unplanned,omitempty"`
}

// AccountInfo is one kind of account a user can link (e.g. "google") and
// whether this user has.
type AccountInfo struct {
	Provider  string `json:"provider"`
	Connected bool   `json:"connected"`
}
