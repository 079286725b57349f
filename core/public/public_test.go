package public

import (
	"errors"
	"fmt"
	"testing"
)

func TestMessage(t *testing.T) {
	inner := errors.New("dial tcp 10.0.0.1:443: secret detail")
	tests := []struct {
		name   string
		err    error
		want   string
		public bool
	}{
		{"public", Errorf(inner, "the model could not be reached"), "the model could not be reached", true},
		{"wrapped", fmt.Errorf("turn: %w", Errorf(inner, "app %s failed", "x")), "app x failed", true},
		{"nil inner", Errorf(nil, "no plan"), "no plan", true},
		{"internal", inner, "", false},
		{"nil", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Message(tt.err)
			if got != tt.want || ok != tt.public {
				t.Fatalf("Message() = %q, %v; want %q, %v", got, ok, tt.want, tt.public)
			}
		})
	}
	if !errors.Is(Errorf(inner, "x"), inner) {
		t.Fatal("the internal error is not in the chain")
	}
}
