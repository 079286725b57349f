//go:build !goolm && !libolm

package matrixtest

import (
	"context"
	"errors"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

// EncryptionCompiled reports whether test clients can use encryption.
const EncryptionCompiled = false

func enableCrypto(context.Context, *mautrix.Client, string, id.TrustState) (func(), error) {
	return nil, errors.New("built without -tags goolm")
}
