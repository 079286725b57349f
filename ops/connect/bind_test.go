package connect

import (
	"context"
	"net/http"
	"testing"
)

// TestConsentLinkBoundToRequest: a consent link links an account once, for
// the request that made it, and no more: not after !disconnect (it used to
// link again for the rest of its ten minutes), not after a newer !connect,
// and not once used. Whoever else opens a dead link (mallory, signed in to
// her own Google account) links nothing to alice.
func TestConsentLinkBoundToRequest(t *testing.T) {
	ctx := context.Background()
	connectURL := func(r *rig) string {
		t.Helper()
		u, err := r.g.ConnectURL(ctx, ProviderGoogle, alice, conv)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	tests := []struct {
		name string
		// kill makes the link dead; it returns the link.
		kill func(t *testing.T, r *rig) string
	}{
		{"used, then disconnected", func(t *testing.T, r *rig) string {
			u := connectURL(r)
			if code, body := browse(t, u, "alice@example.com"); code != http.StatusOK {
				t.Fatalf("first use: %d %s", code, body)
			}
			if ok, err := r.g.Disconnect(ctx, ProviderGoogle, alice); !ok || err != nil {
				t.Fatalf("disconnect: %v %v", ok, err)
			}
			return u
		}},
		{"disconnected before use", func(t *testing.T, r *rig) string {
			u := connectURL(r)
			if _, err := r.g.Disconnect(ctx, ProviderGoogle, alice); err != nil {
				t.Fatal(err)
			}
			return u
		}},
		{"replaced by a newer !connect", func(t *testing.T, r *rig) string {
			u := connectURL(r)
			connectURL(r)
			return u
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			u := tc.kill(t, r)
			if code, body := browse(t, u, "mallory@example.com"); code == http.StatusOK {
				t.Errorf("a dead link linked mallory's account: %d %s", code, body)
			}
			if linked, _ := r.g.Connected(ctx, alice); linked {
				t.Error("alice is linked to the account that opened a dead link")
			}
		})
	}
	// The newest link still works.
	r := newRig(t)
	connectURL(r)
	r.link(t, alice, "alice@example.com")
}
