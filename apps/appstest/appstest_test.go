package appstest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
)

func TestEnvState(t *testing.T) {
	e := NewEnv()
	ctx := t.Context()
	val := json.RawMessage(`{"a":1}`)
	if err := e.PutState(ctx, "k", val); err != nil {
		t.Fatal(err)
	}
	val[2] = 'X' // the Env keeps its own copy
	got, ok, err := e.GetState(ctx, "k")
	if err != nil || !ok || string(got) != `{"a":1}` {
		t.Errorf("GetState = %s %v %v", got, ok, err)
	}
	if _, ok, _ := e.GetState(ctx, "missing"); ok {
		t.Error("missing key found")
	}
	if err := e.PutState(ctx, "bad", json.RawMessage(`{`)); err == nil {
		t.Error("non-JSON value accepted")
	}
	if !slices.Equal(e.Keys(), []string{"k"}) {
		t.Errorf("keys %v", e.Keys())
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := e.GetState(cancelled, "k"); err == nil {
		t.Error("cancelled context ignored")
	}
}

func TestZeroEnv(t *testing.T) {
	var e Env
	if err := e.PutState(t.Context(), "k", json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := e.GetState(t.Context(), "k"); !ok || string(v) != "1" {
		t.Errorf("GetState = %s %v", v, ok)
	}
}

func TestEnvNoNetwork(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", nil)
	_, err := NewEnv().HTTPClient().Do(req)
	if !errors.Is(err, ErrNoNetwork) {
		t.Errorf("err %v, want ErrNoNetwork", err)
	}
}
