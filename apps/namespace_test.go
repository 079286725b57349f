package apps

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/ids"
)

// nsApp is a test app that names a state namespace.
type nsApp struct {
	id ids.AppID
	ns string
}

func (a nsApp) Spec() Spec { return Spec{ID: a.id, StateNamespace: a.ns} }

func (nsApp) Call(context.Context, Env, string, json.RawMessage) (json.RawMessage, error) {
	return nil, nil
}

// TestNamespaceOwnership: a state namespace belongs to one app or to the
// vendor set that declared it; a second claimant fails catalog load with an
// error that names both.
func TestNamespaceOwnership(t *testing.T) {
	for _, a := range []nsApp{
		{"zz_mail_a", "zz_mailbox"}, {"zz_mail_b", "zz_mailbox"}, {"zz_thief", "zz_mailbox"},
		{"zz_notes", ""}, {"zz_notes_thief", "zz_notes"},
		{"zz_cal", "zz_shared"}, {"zz_cal_thief", "zz_shared"},
		{"zz_plain", ""}, {"zz_solo", "zz_solo_data"},
	} {
		Register(a.id, func() App { return a })
	}
	RegisterVendor("zz_mailbox", "zz_mail_a", "zz_mail_b")
	tests := []struct {
		name      string
		installed []ids.AppID
		wantErr   []string // all in the error; none means the catalog loads
	}{
		{"vendor set shares its namespace", []ids.AppID{"zz_mail_a", "zz_mail_b", "zz_plain"}, nil},
		{"outsider names a vendor namespace", []ids.AppID{"zz_mail_a", "zz_thief"}, []string{"zz_thief", "zz_mailbox", "zz_mail_a", "zz_mail_b"}},
		{"outsider alone still refused", []ids.AppID{"zz_thief"}, []string{"zz_thief", "vendor set"}},
		{"another app's id as namespace", []ids.AppID{"zz_notes", "zz_notes_thief"}, []string{"zz_notes_thief", `"zz_notes"`}},
		{"another app's id, owner not installed", []ids.AppID{"zz_notes_thief"}, []string{"zz_notes_thief", "belongs to app zz_notes"}},
		{"two undeclared claimants", []ids.AppID{"zz_cal", "zz_cal_thief"}, []string{"zz_cal", "zz_cal_thief", `"zz_shared"`}},
		{"one undeclared claimant, the other registered", []ids.AppID{"zz_cal", "zz_plain"}, []string{"zz_cal", "zz_cal_thief", `"zz_shared"`}},
		{"one claimant", []ids.AppID{"zz_solo", "zz_plain"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCatalog(tc.installed)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("NewCatalog: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("NewCatalog(%v) loaded; want an error naming %v", tc.installed, tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestRegisterVendorPanics(t *testing.T) {
	RegisterVendor("zz_vendor_once", "zz_v1", "zz_v2")
	for name, f := range map[string]func(){
		"twice":      func() { RegisterVendor("zz_vendor_once", "zz_v3", "zz_v4") },
		"empty":      func() { RegisterVendor("", "zz_v1", "zz_v2") },
		"one member": func() { RegisterVendor("zz_vendor_one", "zz_v1") },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("RegisterVendor did not panic")
				}
			}()
			f()
		})
	}
}
