package redis

import (
	"encoding/json"
	"testing"
)

func FuzzDecodeRelayed(f *testing.F) {
	f.Add(`{"id":"p1","decision":"once","by":"slack:T/U"}`)
	f.Add(`{"id":"","decision":"always"}`)
	f.Add(`not json`)
	f.Add(`{"id":"p2","decision":"=large","by":"slack:T/U"}`)
	f.Add(`{"id":"p3","decision":"accept","by":"slack:T/U"}`)
	f.Fuzz(func(t *testing.T, payload string) {
		m, err := decodeRelayed(payload)
		if err != nil {
			return
		}
		if m.ID == "" || !m.Decision.Known() {
			t.Fatalf("accepted invalid answer %+v", m)
		}
		// A decoded answer encodes and decodes to itself.
		v, _ := json.Marshal(m)
		m2, err := decodeRelayed(string(v))
		if err != nil || m2 != m {
			t.Fatalf("round trip %+v → %s → %+v, %v", m, v, m2, err)
		}
	})
}

func FuzzDecodeUserEvent(f *testing.F) {
	f.Add(`{"user":"slack:T/U","app":"mcp.memory","kind":"forget","replica":"r1"}`)
	f.Add(`{"user":"","kind":"new"}`)
	f.Add(`{"user":"u","kind":"explode"}`)
	f.Fuzz(func(t *testing.T, payload string) {
		e, err := decodeUserEvent(payload)
		if err != nil {
			return
		}
		if !e.Valid() {
			t.Fatalf("accepted invalid event %+v", e)
		}
		v, _ := json.Marshal(e)
		e2, err := decodeUserEvent(string(v))
		if err != nil || e2 != e {
			t.Fatalf("round trip %+v → %s → %+v, %v", e, v, e2, err)
		}
	})
}
