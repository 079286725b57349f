package apps

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/core/ids"
)

type fake struct {
	id  ids.AppID
	fns []string
}

func (f fake) Spec() Spec {
	s := Spec{ID: f.id}
	for _, n := range f.fns {
		s.Functions = append(s.Functions, Function{Name: n})
	}
	return s
}

func (fake) Call(context.Context, Env, string, json.RawMessage) (json.RawMessage, error) {
	return nil, nil
}

func TestRegisterPanics(t *testing.T) {
	tests := []struct {
		name string
		id   ids.AppID
		c    Constructor
	}{
		{"empty id", "", func() App { return fake{} }},
		{"bad id", "Bad/ID", func() App { return fake{} }},
		{"nil constructor", "zz_nil", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("Register did not panic")
				}
			}()
			Register(tt.id, tt.c)
		})
	}
}

func TestRegistryAndCatalog(t *testing.T) {
	Register("zz_one", func() App { return fake{id: "zz_one", fns: []string{"zz_f1", "zz_f2"}} })
	Register("zz_two", func() App { return fake{id: "zz_two", fns: []string{"zz_f3"}} })
	Register("zz_liar", func() App { return fake{id: "zz_other"} })
	Register("zz_dup", func() App { return fake{id: "zz_dup", fns: []string{"zz_f1"}} })
	func() {
		defer func() {
			if recover() == nil {
				t.Error("duplicate registration did not panic")
			}
		}()
		Register("zz_one", func() App { return fake{id: "zz_one"} })
	}()
	reg := Registered()
	for i := 1; i < len(reg); i++ {
		if reg[i-1] >= reg[i] {
			t.Fatalf("Registered() not sorted: %v", reg)
		}
	}
	if _, err := New("zz_liar"); err == nil || !strings.Contains(err.Error(), "reports id") {
		t.Fatalf("an app reporting another id was built: %v", err)
	}
	if _, err := New("zz_missing"); err == nil {
		t.Fatal("unknown app built")
	}
	c, err := NewCatalog([]ids.AppID{"zz_one", "zz_two", "zz_one"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Functions(), ","); got != "zz_f1,zz_f2,zz_f3" {
		t.Fatalf("Functions() = %s", got)
	}
	if a, f, ok := c.ByFunction("zz_f3"); !ok || a.Spec().ID != "zz_two" || f.Name != "zz_f3" {
		t.Fatalf("ByFunction(zz_f3) = %v %v %v", a, f, ok)
	}
	if _, _, ok := c.ByFunction("nope"); ok {
		t.Fatal("unknown function found")
	}
	if _, err := NewCatalog([]ids.AppID{"zz_one", "zz_dup"}); err == nil {
		t.Fatal("two apps with one functionality name installed together")
	}
}
