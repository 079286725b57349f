package cli

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/hub"
	"github.com/secgpt-go/secgpt/core/ids"
)

// TestPrivateNetworks: mcp.servers.<name>.private_networks opens the named
// non-public blocks for that server's spokes only; a public or too wide
// block, or text that is not one, is refused naming its key.
func TestPrivateNetworks(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want []netip.Prefix
		err  string
	}{
		{"none", nil, nil, ""},
		{"a block and an address", []string{"10.1.0.0/16", "192.168.1.5"},
			[]netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("192.168.1.5/32")}, ""},
		{"public", []string{"8.8.8.8"}, nil, "private_networks[0]"},
		{"everything", []string{"10.0.0.0/8", "0.0.0.0/0"}, nil, "private_networks[1]"},
		{"not an address", []string{"intranet"}, nil, "private_networks[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := privateNetworks("corp", config.MCPServer{PrivateNetworks: tc.in}, discardLogger())
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), "mcp.servers.corp."+tc.err) {
					t.Fatalf("err %v, want one naming %s", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v %v, want %v", got, err, tc.want)
			}
		})
	}
	// Only the server's own spokes get them.
	p := &appPolicies{private: map[ids.AppID][]netip.Prefix{"mcp.corp": {netip.MustParsePrefix("10.1.0.0/16")}}}
	for app, want := range map[ids.AppID]int{"mcp.corp": 1, "mcp.other": 0, "quick_ride": 0} {
		pol := hub.SpokeSpec{App: app, User: "u:a"}
		if err := p.apply(context.Background(), &pol); err != nil {
			t.Fatal(err)
		}
		if len(pol.PrivateNets) != want {
			t.Errorf("%s: private nets %v", app, pol.PrivateNets)
		}
	}
}
