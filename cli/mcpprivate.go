package cli

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/sandbox"
)

// privateNetworks reads mcp.servers.<name>.private_networks: the
// non-public blocks (CIDR, or one address) the operator opens for this
// server's egress, and no other app's. Each must pass
// sandbox.CheckPrivateNet; a server that has any is logged, since it is
// the one way past the public-address rule.
func privateNetworks(name string, c config.MCPServer, log *slog.Logger) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, s := range c.PrivateNetworks {
		key := fmt.Sprintf("mcp.servers.%s.private_networks[%d]", name, i)
		s = strings.TrimSpace(s)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, &config.KeyError{Key: key, Msg: fmt.Sprintf("%q is not a CIDR block or an address", s)}
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if err := sandbox.CheckPrivateNet(p); err != nil {
			return nil, &config.KeyError{Key: key, Msg: err.Error()}
		}
		out = append(out, p.Masked())
	}
	if len(out) > 0 && log != nil {
		log.Warn("less restrictive egress: an MCP server may reach private addresses", "server", name, "networks", out)
	}
	return out, nil
}
