package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/publicsuffix"
	"golang.org/x/sys/unix"
)

// DialFunc dials an upstream for the egress proxy.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Egress proxy bounds, per spoke.
const (
	maxEgressConns   = 16       // concurrent connections one spoke may hold open
	maxEgressRequest = 16 << 20 // bytes of one plain-HTTP request (headers and body)
	maxEgressHeader  = 64 << 10 // bytes of one request's line and headers
	httpsPort        = 443      // always allowed; other ports only when declared
	egressIdle       = 2 * time.Minute
)

// egressProxy serves one spoke's egress connections. Each connection is a
// socketpair end the spoke passed over its egress socket; on it the spoke
// speaks HTTP proxy protocol: CONNECT host:443 for HTTPS, absolute-URI
// requests for plain HTTP.
type egressProxy struct {
	app      string
	declared []string       // registrable domains the app declared
	ports    []int          // ports besides 443 the app declared
	private  []netip.Prefix // non-public blocks the operator opened for this app
	dial     DialFunc
	audit    AuditFunc
	log      *slog.Logger
	tr       *http.Transport
}

func newEgressProxy(p Policy, cfg Config, log *slog.Logger) *egressProxy {
	px := &egressProxy{app: p.App, dial: cfg.EgressDial, audit: cfg.Audit, log: log}
	for _, n := range p.PrivateNets {
		if err := CheckPrivateNet(n); err != nil {
			log.Warn("sandbox: egress: ignoring a private network", "app", p.App, "err", err)
			continue
		}
		px.private = append(px.private, n.Masked())
	}
	for _, port := range p.Ports {
		if port < 1 || port > 65535 {
			log.Warn("sandbox: egress: ignoring a declared port", "app", p.App, "port", port)
			continue
		}
		if port != httpsPort && !slices.Contains(px.ports, port) {
			px.ports = append(px.ports, port)
		}
	}
	for _, d := range p.Domains {
		reg, err := registrable(d)
		if err != nil {
			log.Warn("sandbox: egress: ignoring a declared domain", "app", p.App, "domain", d, "err", err)
			continue
		}
		if !slices.Contains(px.declared, reg) {
			px.declared = append(px.declared, reg)
		}
	}
	if px.dial == nil {
		px.dial = publicDialerExcept(px.private)
	}
	px.tr = &http.Transport{
		DialContext:           px.dial,
		Proxy:                 nil,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       egressIdle,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: time.Minute,
	}
	return px
}

// registrable returns the eTLD+1 of a host name; IP literals and bare
// public suffixes have none.
func registrable(host string) (string, error) {
	host = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(host)), ".")
	if host == "" {
		return "", errors.New("empty host")
	}
	if net.ParseIP(strings.Trim(host, "[]")) != nil {
		return "", errors.New("IP addresses are never allowed, only declared domains")
	}
	return publicsuffix.EffectiveTLDPlusOne(host)
}

// allow decides whether the app may reach host: a name under a declared
// registrable domain, or an address inside a private block the operator
// opened for this app.
func (px *egressProxy) allow(host string) bool {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return inPrefixes(a, px.private)
	}
	reg, err := registrable(host)
	return err == nil && slices.Contains(px.declared, reg)
}

// allowPort decides whether the app may reach port: 443, or one it declared.
// A domain is no licence for its other services (an admin port, a
// database, SMTP on the same name).
func (px *egressProxy) allowPort(port string) bool {
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return false
	}
	return n == httpsPort || slices.Contains(px.ports, n)
}

// portList names the ports the app may use, for refusals.
func (px *egressProxy) portList() string {
	ps := []string{strconv.Itoa(httpsPort)}
	for _, p := range px.ports {
		ps = append(ps, strconv.Itoa(p))
	}
	return strings.Join(ps, ", ")
}

// serveEgress accepts the spoke's connections on conn (the hub's end of the
// egress socket) until the spoke closes it or the hub closes conn.
func serveEgress(ctx context.Context, conn *net.UnixConn, p Policy, cfg Config, log *slog.Logger) {
	px := newEgressProxy(p, cfg, log)
	defer px.tr.CloseIdleConnections()
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, maxEgressConns)
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil || (n == 0 && oobn == 0) {
			return
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return
		}
		for _, m := range msgs {
			fds, err := unix.ParseUnixRights(&m)
			if err != nil {
				continue
			}
			for _, fd := range fds {
				c, err := fileConn(fd)
				if err != nil {
					continue
				}
				select {
				case sem <- struct{}{}:
				default:
					c.Close() // over the per-spoke bound
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					px.serveConn(ctx, c)
				}()
			}
		}
	}
}

// fileConn turns a received descriptor into a net.Conn (closing fd).
func fileConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "egress-conn")
	defer f.Close()
	return net.FileConn(f)
}

// serveConn answers proxy requests on one spoke connection.
func (px *egressProxy) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	lr := &io.LimitedReader{R: c}
	br := bufio.NewReader(lr)
	for {
		// The request line and headers get their own, small bound; the
		// body is bounded separately below. (The bufio reader may have read
		// ahead into the body; that is counted against the header bound,
		// which is why the bound is generous.)
		lr.N = maxEgressHeader
		_ = c.SetReadDeadline(time.Now().Add(egressIdle))
		req, err := http.ReadRequest(br)
		if err != nil {
			if lr.N <= 0 {
				refuse(c, http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("egress proxy: request headers exceed %d bytes", maxEgressHeader))
			}
			return
		}
		lr.N = maxEgressRequest
		_ = c.SetReadDeadline(time.Time{})
		host, port := req.URL.Hostname(), req.URL.Port()
		if port == "" {
			port = "80"
		}
		if req.Method == http.MethodConnect {
			var hasPort bool
			host, port, hasPort = strings.Cut(req.Host, ":")
			if !hasPort {
				port = strconv.Itoa(httpsPort)
			}
		}
		hostOK := px.allow(host)
		ok := hostOK && px.allowPort(port)
		if px.audit != nil {
			target := host
			if port != strconv.Itoa(httpsPort) {
				target = net.JoinHostPort(host, port)
			}
			px.audit(ctx, px.app, target, ok)
		}
		if !ok {
			px.log.Info("sandbox: egress refused", "app", px.app, "host", host, "port", port)
			msg := fmt.Sprintf("egress to %q refused: not a domain app %q declared (declared: %s)", host, px.app, strings.Join(px.declared, ", "))
			if hostOK {
				msg = fmt.Sprintf("egress to %q port %s refused: app %q may use ports %s", host, port, px.app, px.portList())
			}
			refuse(c, http.StatusForbidden, msg)
			if req.Method == http.MethodConnect {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			continue
		}
		if req.Method == http.MethodConnect {
			px.tunnel(ctx, c, br, req)
			return
		}
		if !px.forward(ctx, c, req) {
			return
		}
	}
}

// tunnel answers CONNECT: the spoke does TLS end to end with the upstream.
func (px *egressProxy) tunnel(ctx context.Context, c net.Conn, br *bufio.Reader, req *http.Request) {
	addr := req.Host
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "443")
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	up, err := px.dial(dctx, "tcp", addr)
	cancel()
	if err != nil {
		refuse(c, http.StatusBadGateway, fmt.Sprintf("egress to %q failed: %v", addr, err))
		return
	}
	defer up.Close()
	// A spoke that dies mid-tunnel only half-closes it (its end is gone,
	// the upstream's is not); the tunnel ends with the spoke's proxy.
	stop := context.AfterFunc(ctx, func() {
		_ = up.Close()
		_ = c.Close()
	})
	defer stop()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(up, br) // br holds what the spoke sent after CONNECT
		if cw, ok := up.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}()
	_, _ = io.Copy(c, up)
	_ = c.Close()
	<-done
}

// hopHeaders are meaningful for one connection only.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// forward relays one plain-HTTP request; it reports whether the connection
// may carry another.
func (px *egressProxy) forward(ctx context.Context, c net.Conn, req *http.Request) bool {
	if req.URL.Scheme != "http" || req.URL.Host == "" {
		refuse(c, http.StatusBadRequest, "egress proxy: send http:// URLs in absolute form and https through CONNECT")
		return false
	}
	out := req.Clone(ctx)
	out.RequestURI = ""
	// The decision was made on the URL's host: send that one, so a Host
	// header cannot pick another virtual host behind the same address.
	out.Host = req.URL.Host
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	resp, err := px.tr.RoundTrip(out)
	if err != nil {
		refuse(c, http.StatusBadGateway, fmt.Sprintf("egress to %q failed: %v", req.URL.Host, err))
		return false
	}
	defer resp.Body.Close()
	if err := resp.Write(c); err != nil {
		return false
	}
	return !req.Close && !resp.Close
}

// refuse writes an error response whose status line and body both say why,
// so the spoke's HTTP client error (which for CONNECT only carries the
// status line) names the domain.
func refuse(c net.Conn, code int, msg string) {
	msg = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, msg)
	body := msg + "\n"
	_, _ = fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		code, msg, len(body), body)
}

// publicDialer dials only public unicast addresses (checkPublic), so a
// declared domain that resolves to loopback or a private network cannot
// reach the hub's own services (the store, the LLM endpoint, the metadata
// service). The check runs on the address actually dialed, after DNS.
func publicDialer() DialFunc { return publicDialerExcept(nil) }

// PublicDialer dials public unicast addresses only, plus those inside
// private (blocks an operator opened, each passing CheckPrivateNet): for
// the hub's own requests to hosts that third-party text named (an MCP
// server's authorization metadata).
func PublicDialer(private []netip.Prefix) DialFunc {
	var ok []netip.Prefix
	for _, p := range private {
		if CheckPrivateNet(p) == nil {
			ok = append(ok, p.Masked())
		}
	}
	return publicDialerExcept(ok)
}

// publicDialerExcept is publicDialer that also dials the addresses inside
// private (an operator's per-app opt-in, CheckPrivateNet).
func publicDialerExcept(private []netip.Prefix) DialFunc {
	d := &net.Dialer{Timeout: 30 * time.Second, Control: func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			return fmt.Errorf("egress: refusing non-public address %s: %w", host, err)
		}
		if err := checkPublic(a); err != nil && !inPrefixes(a, private) {
			return fmt.Errorf("egress: refusing non-public address: %w", err)
		}
		return nil
	}}
	return d.DialContext
}

// CheckPrivateNet accepts a block an operator may open for one app's egress
// (an MCP server on the LAN or in the cluster): non-public at both ends,
// and no wider than a /8 (IPv4) or a /16 (IPv6), so that "everything" is
// never one entry.
func CheckPrivateNet(p netip.Prefix) error {
	if !p.IsValid() {
		return errors.New("not a network (want CIDR, e.g. 10.1.2.0/24)")
	}
	p = p.Masked()
	a := p.Addr()
	if least := map[bool]int{true: 8, false: 16}[a.Unmap().Is4()]; p.Bits() < least {
		return fmt.Errorf("%s is wider than /%d", p, least)
	}
	last := lastAddr(p)
	if checkPublic(a) == nil || checkPublic(last) == nil {
		return fmt.Errorf("%s holds public addresses; only non-public blocks (RFC 1918, loopback, ULA, …) can be opened", p)
	}
	return nil
}

// lastAddr is the highest address of p (masked).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	a = a.Unmap().WithZone("")
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
