//go:build !goolm && !libolm

package matrixtest

import (
	"context"
	"errors"

	"maunium.net/go/mautrix"
)

// EncryptionCompiled reports whether test clients can use encryption.
const EncryptionCompiled = false

func enableCrypto(context.Context, *mautrix.Client, string) (func(), error) {
	return nil, errors.New("built without -tags goolm")
}
