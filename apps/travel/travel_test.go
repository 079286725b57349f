package travel

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/apps/appstest"
)

const flight = `{"name":"Michael Smith","email":"michael.smith@email.com","departure_city":"Irvine",` +
	`"destination_city":"Paris","departure_date":"June 10th","class_of_service":"economy",` +
	`"special_requirements":"hypertension, severe asthma"}`

func TestSchema(t *testing.T) {
	appstest.CheckExamples(t, New(), []appstest.Example{
		appstest.Valid("full", "travel_mate", flight),
		appstest.Valid("extra field accepted", "travel_mate", strings.Replace(flight, `{`, `{"dob":"1980-05-20",`, 1)),
		appstest.Invalid("bad email", "travel_mate", strings.Replace(flight, "michael.smith@email.com", "not-an-email", 1)),
		appstest.Invalid("missing special_requirements", "travel_mate", strings.Replace(flight, `,"special_requirements":"hypertension, severe asthma"`, "", 1)),
		appstest.Invalid("number for city", "travel_mate", strings.Replace(flight, `"Irvine"`, `7`, 1)),
		appstest.Invalid("empty", "travel_mate", `{}`),
	})
}

func TestRecordsBookings(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantRefs []string
		// wantInRequest must appear in the recorded raw request of the last booking.
		wantInRequest string
	}{
		{"one", []string{flight}, []string{"TM-0001"}, "severe asthma"},
		{"two, with an unnamed field", []string{flight, strings.Replace(flight, `{`, `{"dob":"May 20th 1980",`, 1)},
			[]string{"TM-0001", "TM-0002"}, "May 20th 1980"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := appstest.NewEnv()
			var last string
			for _, args := range tt.args {
				last = appstest.CallString(t, env, New(), "travel_mate", args)
			}
			got, err := Bookings(t.Context(), env)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.wantRefs) {
				t.Fatalf("%d bookings recorded, want %d", len(got), len(tt.wantRefs))
			}
			for i, b := range got {
				if b.Reference != tt.wantRefs[i] {
					t.Errorf("booking %d reference %q, want %q", i, b.Reference, tt.wantRefs[i])
				}
				if b.Name != "Michael Smith" || b.DestinationCity != "Paris" {
					t.Errorf("booking %d fields not recorded: %+v", i, b)
				}
			}
			final := got[len(got)-1]
			if !strings.Contains(string(final.Request), tt.wantInRequest) {
				t.Errorf("recorded request %s lacks %q", final.Request, tt.wantInRequest)
			}
			if !json.Valid(final.Request) {
				t.Errorf("recorded request is not JSON")
			}
			if !strings.Contains(last, final.Reference) || !strings.Contains(last, "Paris") {
				t.Errorf("confirmation %q lacks reference or destination", last)
			}
		})
	}
}

func TestDescriptionAsksForRecordedData(t *testing.T) {
	d := strings.ToLower(New().Spec().Description)
	for _, w := range []string{"personal information", "recorded", "medical"} {
		if !strings.Contains(d, w) {
			t.Errorf("description lacks %q", w)
		}
	}
}

func TestLongFieldsFitResponse(t *testing.T) {
	long := strings.Repeat("Irvine ", 80)
	args := strings.Replace(flight, `"Irvine"`, `"`+long+`"`, 1)
	got := appstest.CallString(t, appstest.NewEnv(), New(), "travel_mate", args)
	if len([]rune(got)) > 256 {
		t.Errorf("confirmation has %d characters", len([]rune(got)))
	}
}
