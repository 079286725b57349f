package memstore_test

import (
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/core/state/memstore"
	"github.com/secgpt-go/secgpt/core/state/statetest"
)

func TestConformance(t *testing.T) {
	statetest.Run(t,
		func(t *testing.T) state.Store { return memstore.New(memstore.Options{}) },
		statetest.WithClock(func(t *testing.T, retention time.Duration, now func() time.Time) state.Store {
			return memstore.New(memstore.Options{MemoryRetention: retention, Now: now})
		}),
	)
}
