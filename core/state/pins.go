package state

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/secgpt-go/secgpt/core/ids"
)

// PinnedTool is one approved tool definition of an MCP server.
type PinnedTool struct {
	// Alias is the name the planner and the responder see for the tool
	// (without the "<server>__" prefix).
	Alias string `json:"alias"`
	// Definition is the tool as approved: its name, schemas, description
	// and annotations, as the hub keeps them (compact JSON).
	Definition json.RawMessage `json:"definition"`
}

// Pin is an MCP server's approved tool definitions, and the definitions
// it has listed since that differ and wait for the operator's approval.
type Pin struct {
	Server ids.AppID `json:"server"`
	// Tools are the approved definitions, by the server's tool name.
	Tools map[string]PinnedTool `json:"tools"`
	// Pending are definitions listed since that are new or differ from
	// the approved ones, by tool name; until approved they are not used.
	Pending map[string]json.RawMessage `json:"pending,omitempty"`
	// Updated is when the pin last changed.
	Updated time.Time `json:"updated"`
}

// Pins keeps MCP servers' pins, so that a server whose tools change after
// the operator approved them is noticed on every replica and across
// restarts.
type Pins interface {
	// GetPin returns server's pin, if it has one.
	GetPin(ctx context.Context, server ids.AppID) (Pin, bool, error)
	// PutPin stores p, replacing the server's earlier pin.
	PutPin(ctx context.Context, p Pin) error
	// ListPins returns every pin, sorted by server.
	ListPins(ctx context.Context) ([]Pin, error)
}

// CheckPin validates p for PutPin, so that every backend rejects the same
// records.
func CheckPin(p Pin) error {
	if p.Server == "" {
		return fmt.Errorf("pin without server: %w", ErrInvalid)
	}
	for name, t := range p.Tools {
		if name == "" || !json.Valid(t.Definition) {
			return fmt.Errorf("pin of %s: tool %q without a valid definition: %w", p.Server, name, ErrInvalid)
		}
	}
	for name, d := range p.Pending {
		if name == "" || !json.Valid(d) {
			return fmt.Errorf("pin of %s: pending tool %q without a valid definition: %w", p.Server, name, ErrInvalid)
		}
	}
	return nil
}
