package local_test

import (
	"testing"

	"github.com/secgpt-go/secgpt/apps"
	_ "github.com/secgpt-go/secgpt/apps/local"
)

// Every app here must run without the network: secgpt-spoke-local runs
// their spokes in the shared empty network namespace, and an app that
// declared a domain would find no egress there.
func TestLocalAppsNeedNoNetwork(t *testing.T) {
	ids := apps.Registered()
	if len(ids) == 0 {
		t.Fatal("no apps registered")
	}
	for _, id := range ids {
		a, err := apps.New(id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if d := a.Spec().Domains; len(d) > 0 {
			t.Errorf("%s declares domains %v: it is not a local app", id, d)
		}
	}
}
