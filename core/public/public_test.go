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

// TestAppMessage: an app's own message rides apart from the user message
// and the internal error, and only AppMessage returns it.
func TestAppMessage(t *testing.T) {
	err := fmt.Errorf("step: %w", FromApp(errors.New("detail"), "the app's words", "the app reported an error"))
	if m, _ := Message(err); m != "the app reported an error" {
		t.Fatalf("Message() = %q", m)
	}
	if got := AppMessage(err); got != "the app's words" {
		t.Fatalf("AppMessage() = %q", got)
	}
	if got := err.Error(); got != "step: the app reported an error: detail" {
		t.Fatalf("Error() = %q", got)
	}
	if AppMessage(Errorf(nil, "x")) != "" || AppMessage(errors.New("x")) != "" {
		t.Fatal("an app message where none was given")
	}
}
