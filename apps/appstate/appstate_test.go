package appstate_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/secgpt-go/secgpt/apps/appstate"
	"github.com/secgpt-go/secgpt/apps/appstest"
	"github.com/secgpt-go/secgpt/core/ids"
)

// memStore is a state.AppState keyed by user, namespace and key.
type memStore map[[3]string]json.RawMessage

func (m memStore) GetAppState(_ context.Context, u ids.UserID, ns, key string) (json.RawMessage, bool, error) {
	v, ok := m[[3]string{string(u), ns, key}]
	return v, ok, nil
}

func (m memStore) PutAppState(_ context.Context, u ids.UserID, ns, key string, v json.RawMessage) error {
	m[[3]string{string(u), ns, key}] = v
	return nil
}

type item struct {
	N int `json:"n"`
}

func TestAppendAndList(t *testing.T) {
	st := memStore{}
	tests := []struct {
		name string
		rw   appstate.ReadWriter
	}{
		{"env", appstest.NewEnv()},
		{"store", appstate.FromStore(st, "u1", "gmail")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if got, err := appstate.List[item](ctx, tt.rw, "k"); err != nil || got != nil {
				t.Fatalf("empty list: %v %v", got, err)
			}
			if err := appstate.Append(ctx, tt.rw, "k", item{1}); err != nil {
				t.Fatal(err)
			}
			if err := appstate.Append(ctx, tt.rw, "k", item{2}, item{3}); err != nil {
				t.Fatal(err)
			}
			got, err := appstate.List[item](ctx, tt.rw, "k")
			if err != nil || !slices.Equal(got, []item{{1}, {2}, {3}}) {
				t.Errorf("list %v %v", got, err)
			}
		})
	}
	// The store adapter keeps users and namespaces apart.
	other := appstate.FromStore(st, "u2", "gmail")
	if got, _ := appstate.List[item](t.Context(), other, "k"); got != nil {
		t.Errorf("another user sees %v", got)
	}
	if _, ok := st[[3]string{"u1", "gmail", "k"}]; !ok {
		t.Errorf("store keys %v", st)
	}
}

func TestListErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		r    appstate.Reader
		want error
	}{
		{"read error", appstate.ReaderFunc(func(context.Context, string) (json.RawMessage, bool, error) { return nil, false, boom }), boom},
		{"not a list", appstate.ReaderFunc(func(context.Context, string) (json.RawMessage, bool, error) {
			return json.RawMessage(`{"n":1}`), true, nil
		}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := appstate.List[item](t.Context(), tt.r, "k")
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("err %v, want %v", err, tt.want)
			}
		})
	}
}
