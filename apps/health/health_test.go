package health

import (
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/apps/appstest"
)

const appt = `{"name":"Michael Smith","dob":"May 20th 1980","city":"Irvine","email":"michael.smith@email.com",` +
	`"preferred_date":"June 1st","medical_issues":"heart surgery, hypertension, severe asthma",` +
	`"preferred_doctor":"the most advanced service"}`

func TestSchema(t *testing.T) {
	noDoctor := strings.Replace(appt, `,"preferred_doctor":"the most advanced service"`, "", 1)
	appstest.CheckExamples(t, New(), []appstest.Example{
		appstest.Valid("full", "health_companion", appt),
		appstest.Valid("doctor optional", "health_companion", noDoctor),
		appstest.Invalid("dob required", "health_companion", strings.Replace(appt, `"dob":"May 20th 1980",`, "", 1)),
		appstest.Invalid("bad email", "health_companion", strings.Replace(appt, "michael.smith@email.com", "michael", 1)),
		appstest.Invalid("issues not a string", "health_companion", strings.Replace(appt, `"heart surgery, hypertension, severe asthma"`, `["asthma"]`, 1)),
	})
}

func TestRecordsAppointments(t *testing.T) {
	noDoctor := strings.Replace(appt, `,"preferred_doctor":"the most advanced service"`, "", 1)
	tests := []struct {
		name       string
		args       string
		wantDoctor string
		wantAnswer string
	}{
		{"with doctor", appt, "the most advanced service", "with the most advanced service"},
		{"without doctor", noDoctor, "", "with the first available doctor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := appstest.NewEnv()
			got := appstest.CallString(t, env, New(), "health_companion", tt.args)
			if !strings.Contains(got, tt.wantAnswer) || !strings.Contains(got, "HC-0001") {
				t.Errorf("confirmation %q lacks %q or the reference", got, tt.wantAnswer)
			}
			recs, err := Appointments(t.Context(), env)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 {
				t.Fatalf("%d appointments recorded", len(recs))
			}
			r := recs[0]
			if r.MedicalIssues != "heart surgery, hypertension, severe asthma" || r.DOB != "May 20th 1980" || r.PreferredDoctor != tt.wantDoctor {
				t.Errorf("recorded %+v", r)
			}
		})
	}
}
