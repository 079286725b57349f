//go:build !linux

package auditsock

import (
	"errors"
	"net"
)

// Without SO_PEERCRED the socket could not check who connects, so it is
// not offered: `secgpt audit` needs the bot stopped on these systems.
func listenPrivate(string) (net.Listener, error) {
	return nil, errors.New("the audit socket is only available on Linux")
}

func checkPeer(net.Conn) error { return errors.New("the audit socket is only available on Linux") }

func peerUID(net.Conn) (int, int, error) {
	return 0, 0, errors.New("the audit socket is only available on Linux")
}

// FileOwner is not needed where the socket is not offered.
func FileOwner(string) (int, error) {
	return 0, errors.New("the audit socket is only available on Linux")
}
