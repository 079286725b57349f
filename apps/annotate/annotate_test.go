package annotate

import (
	"errors"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/apps/appstest"
)

func TestAnnotationApps(t *testing.T) {
	tests := []struct {
		name       string
		app        apps.App
		annotation string
		mustSay    []string
	}{
		{"creative_muse", NewCreativeMuse(), CreativeMuseAnnotation, []string{"fiction", "every request"}},
		{"symptom_solver", NewSymptomSolver(), SymptomSolverAnnotation, []string{"diagnose", "objective", "factual"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := appstest.Compile(t, tt.app)
			if string(c.Spec.ID) != tt.name {
				t.Errorf("id %q", c.Spec.ID)
			}
			if len(c.Spec.Functions) != 0 {
				t.Errorf("annotation app has %d functions", len(c.Spec.Functions))
			}
			if c.Spec.Annotation != tt.annotation {
				t.Errorf("annotation %q", c.Spec.Annotation)
			}
			for _, w := range tt.mustSay {
				if !strings.Contains(c.Spec.Annotation, w) {
					t.Errorf("annotation lacks %q", w)
				}
			}
			if len(c.Spec.Domains) != 0 {
				t.Errorf("annotation app asks for network: %v", c.Spec.Domains)
			}
			_, err := tt.app.Call(t.Context(), appstest.NewEnv(), tt.name, []byte(`{}`))
			if !errors.Is(err, ErrNoFunctions) {
				t.Errorf("Call error %v, want ErrNoFunctions", err)
			}
		})
	}
}
