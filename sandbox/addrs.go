package sandbox

import (
	"fmt"
	"net/netip"
)

// nonPublic lists the address blocks the egress proxy never dials, from the
// IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and its
// updates) and the address-space registries. A block is here when its
// registry entry is not globally reachable, or when it is deprecated and no
// public service needs it. Globally reachable special-purpose entries
// (AS112 192.31.196.0/24, AMT 192.52.193.0/24, 2620:4f:8000::/48) are not
// listed and stay reachable.
//
// IPv6 is decided by an allow-list first (globalUnicast6): everything outside
// 2000::/3 is refused, which covers ::/128, ::1/128, the IPv4-compatible
// ::/96, 64:ff9b:1::/48 (local-use NAT64), 100::/64 (discard), 5f00::/16
// (SRv6), fc00::/7, fe80::/10, fec0::/10 and ff00::/8 without listing them.
// IPv4-mapped addresses (::ffff:0:0/96) and the well-known NAT64 prefix
// (64:ff9b::/96) carry an IPv4 address, which is checked instead.
var nonPublic = []struct {
	prefix netip.Prefix
	what   string
}{
	// IPv4
	{netip.MustParsePrefix("0.0.0.0/8"), "this network (RFC 791)"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private use (RFC 1918)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space, carrier-grade NAT (RFC 6598)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback (RFC 1122)"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link local, cloud metadata services (RFC 3927)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private use (RFC 1918)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments (RFC 6890)"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation TEST-NET-1 (RFC 5737)"},
	{netip.MustParsePrefix("192.88.99.0/24"), "deprecated 6to4 relay anycast (RFC 7526)"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private use (RFC 1918)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking (RFC 2544)"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation TEST-NET-2 (RFC 5737)"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation TEST-NET-3 (RFC 5737)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast (RFC 5771)"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved, and limited broadcast 255.255.255.255 (RFC 1112, RFC 919)"},
	// IPv6, inside global unicast 2000::/3
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignments, Teredo 2001::/32 included (RFC 2928, RFC 4380)"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation (RFC 3849)"},
	{netip.MustParsePrefix("2002::/16"), "6to4, deprecated; embeds an IPv4 address the relay would reach (RFC 3056, RFC 7526)"},
	{netip.MustParsePrefix("3fff::/20"), "documentation (RFC 9637)"},
}

var (
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052
)

// checkPublic returns an error naming the block when a is not a public
// unicast address.
func checkPublic(a netip.Addr) error {
	a = a.Unmap().WithZone("")
	if a.Is6() && nat64WellKnown.Contains(a) {
		// A NAT64 gateway would reach the embedded IPv4 address.
		b := a.As16()
		v4 := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		if err := checkPublic(v4); err != nil {
			return fmt.Errorf("%s embedded in NAT64 %s: %w", v4, a, err)
		}
		return nil
	}
	if !a.IsValid() {
		return fmt.Errorf("invalid address")
	}
	if a.Is6() && !globalUnicast6.Contains(a) {
		return fmt.Errorf("%s is outside IPv6 global unicast 2000::/3", a)
	}
	for _, n := range nonPublic {
		if n.prefix.Contains(a) {
			return fmt.Errorf("%s is in %s, %s", a, n.prefix, n.what)
		}
	}
	return nil
}
