package standard_test

import (
	"testing"

	"golang.org/x/net/publicsuffix"

	"github.com/secgpt-go/secgpt/apps"
)

// TestDeclaredDomainsAreRegistrable: the egress proxy allows registrable
// domains (eTLD+1) only, so a declared domain that is not one (such as
// googleapis.com, itself a public suffix) would silently allow nothing.
func TestDeclaredDomainsAreRegistrable(t *testing.T) {
	for _, id := range apps.Registered() {
		a, err := apps.New(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range a.Spec().Domains {
			got, err := publicsuffix.EffectiveTLDPlusOne(d)
			if err != nil || got != d {
				t.Errorf("%s declares %q, whose registrable domain is %q (%v)", id, d, got, err)
			}
		}
	}
}
