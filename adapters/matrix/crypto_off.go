//go:build !goolm && !libolm

package matrix

import (
	"context"
	"errors"
	"io"
)

// EncryptionCompiled reports whether this build can use end-to-end
// encryption (built with -tags goolm or -tags libolm).
const EncryptionCompiled = false

// errNoEncryption is returned by SetupCrossSigning in builds without E2EE.
var errNoEncryption = errors.New("this build has no end-to-end encryption; rebuild with -tags goolm")

// initCrypto is a no-op: without an Olm implementation the bot works in
// unencrypted rooms only, and onUndecryptable says so in encrypted ones.
func (a *Adapter) initCrypto(context.Context) (io.Closer, error) {
	if a.cfg.RecoveryKey != "" {
		return nil, errNoEncryption
	}
	return nil, nil
}

// SetupCrossSigning is unavailable without end-to-end encryption.
func (a *Adapter) SetupCrossSigning(context.Context) (string, error) {
	return "", errNoEncryption
}
