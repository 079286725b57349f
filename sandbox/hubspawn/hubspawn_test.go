package hubspawn

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/sandbox"
)

// TestPolicyCarriesEverySpecField: whatever the hub decides a spoke needs
// reaches the sandbox. Each field of hub.SpokeSpec (but User, which the
// sandbox does not confine by) has a sandbox.Policy field of the same
// name, and a spec with every field set gives a policy with every field
// set (but Args, which the hub never sets), mount and limit fields
// included. A field added to the spec without its conversion fails here.
func TestPolicyCarriesEverySpecField(t *testing.T) {
	spec := hub.SpokeSpec{
		App: "x.y", User: "u", Timeout: time.Second, Domains: []string{"example.com"}, Ports: []int{80},
		PrivateNets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, AllowExec: true,
		Limits: hub.SpokeLimits{CPU: 1, Memory: 2, FileSize: 3, OpenFiles: 4, Procs: 5, Tmp: 6},
		Mounts: []hub.Mount{{Source: "/a", Target: "/b", Write: true, RealOwners: true}},
	}
	allSet(t, "hub.SpokeSpec", reflect.ValueOf(spec), nil)
	pt := reflect.TypeFor[sandbox.Policy]()
	for f := range reflect.TypeFor[hub.SpokeSpec]().Fields() {
		if _, ok := pt.FieldByName(f.Name); !ok && f.Name != "User" {
			t.Errorf("hub.SpokeSpec.%s has no sandbox.Policy field", f.Name)
		}
	}
	p := Policy(spec)
	allSet(t, "sandbox.Policy", reflect.ValueOf(p), map[string]bool{"Args": true})
	allSet(t, "sandbox.Limits", reflect.ValueOf(p.Limits), nil)
	allSet(t, "sandbox.Mount", reflect.ValueOf(p.Mounts[0]), nil)
	allSet(t, "hub.SpokeLimits", reflect.ValueOf(spec.Limits), nil)
	allSet(t, "hub.Mount", reflect.ValueOf(spec.Mounts[0]), nil)
	sameFields(t, reflect.ValueOf(spec.Limits), reflect.ValueOf(p.Limits))
	sameFields(t, reflect.ValueOf(spec.Mounts[0]), reflect.ValueOf(p.Mounts[0]))
}

// sameFields fails unless the structs a and b have the same field names,
// each with the same value.
func sameFields(t *testing.T, a, b reflect.Value) {
	t.Helper()
	if a.NumField() != b.NumField() {
		t.Errorf("%s has %d fields, %s %d", a.Type(), a.NumField(), b.Type(), b.NumField())
	}
	for i := range a.NumField() {
		name := a.Type().Field(i).Name
		bf := b.FieldByName(name)
		if !bf.IsValid() || bf.Interface() != a.Field(i).Interface() {
			t.Errorf("%s.%s = %v, %s.%s = %v", a.Type(), name, a.Field(i), b.Type(), name, bf)
		}
	}
}

// allSet fails for each zero field of the struct v but those in skip.
func allSet(t *testing.T, name string, v reflect.Value, skip map[string]bool) {
	t.Helper()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !skip[f.Name] && v.Field(i).IsZero() {
			t.Errorf("%s.%s is not set", name, f.Name)
		}
	}
}
