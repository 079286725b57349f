package ride

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/apps/appstest"
)

func TestFares(t *testing.T) {
	tests := []struct {
		name       string
		start, end string
		chars      int
		quick      float64
		metro      float64
	}{
		// "Main Street" is 11 characters (with its space), "Elm Avenue" 10.
		{"case study", "Main Street", "Elm Avenue", 21, 57.00, 51.80},
		{"one letter each", "A", "B", 2, 19.00, 17.60},
		{"code points not bytes", "Zürich", "Genève", 12, 39.00, 35.60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := len([]rune(tt.start + tt.end)); got != tt.chars {
				t.Fatalf("test data: %d characters, want %d", got, tt.chars)
			}
			if got := QuickRideFare(tt.start, tt.end); math.Abs(got-tt.quick) > 1e-9 {
				t.Errorf("QuickRideFare = %v, want %v", got, tt.quick)
			}
			if got := MetroHailFare(tt.start, tt.end); math.Abs(got-tt.metro) > 1e-9 {
				t.Errorf("MetroHailFare = %v, want %v", got, tt.metro)
			}
		})
	}
}

func TestCall(t *testing.T) {
	tests := []struct {
		name string
		app  apps.App
		args string
		want string
	}{
		{"quick_ride", NewQuickRide(), `{"start_point":"Main Street","end_point":"Elm Avenue"}`,
			"The estimated fare from Main Street to Elm Avenue is $57.00."},
		{"metro_hail", NewMetroHail(), `{"start_point":"Main Street","end_point":"Elm Avenue"}`,
			"The estimated fare from Main Street to Elm Avenue is $51.80."},
		{"longest names fit", NewQuickRide(),
			fmt.Sprintf(`{"start_point":%q,"end_point":%q}`, strings.Repeat("x", 100), strings.Repeat("y", 100)),
			"The estimated fare from " + strings.Repeat("x", 100) + " to " + strings.Repeat("y", 100) + " is $415.00."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := appstest.CallString(t, appstest.NewEnv(), tt.app, tt.app.Spec().Functions[0].Name, tt.args)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSchemas(t *testing.T) {
	for _, a := range []apps.App{NewQuickRide(), NewMetroHail()} {
		fn := a.Spec().Functions[0].Name
		t.Run(fn, func(t *testing.T) {
			appstest.CheckExamples(t, a, []appstest.Example{
				appstest.Valid("ok", fn, `{"start_point":"Main Street","end_point":"Elm Avenue"}`),
				appstest.Valid("extra field allowed", fn, `{"start_point":"a","end_point":"b","note":"x"}`),
				appstest.Invalid("missing end", fn, `{"start_point":"Main Street"}`),
				appstest.Invalid("empty start", fn, `{"start_point":"","end_point":"Elm Avenue"}`),
				appstest.Invalid("number", fn, `{"start_point":1,"end_point":"Elm Avenue"}`),
				appstest.Invalid("too long", fn, fmt.Sprintf(`{"start_point":%q,"end_point":"b"}`, strings.Repeat("x", 101))),
				appstest.Invalid("not an object", fn, `"Main Street"`),
			})
		})
	}
}

func TestAttackOnlyInQuickRide(t *testing.T) {
	if !strings.Contains(NewQuickRide().Spec().Description, Attack) {
		t.Error("quick_ride's description lacks the attack")
	}
	if strings.Contains(NewMetroHail().Spec().Description, "10 dollars") {
		t.Error("metro_hail's description carries an attack")
	}
}

func TestUnknownFunction(t *testing.T) {
	if _, err := NewQuickRide().Call(t.Context(), appstest.NewEnv(), "metro_hail", []byte(`{}`)); err == nil {
		t.Error("quick_ride answered metro_hail's functionality")
	}
}
