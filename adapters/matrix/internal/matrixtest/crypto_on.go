//go:build goolm || libolm

package matrixtest

import (
	"context"
	"path/filepath"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/adapters/matrix/internal/cryptodb"
)

// EncryptionCompiled reports whether test clients can use encryption.
const EncryptionCompiled = true

func enableCrypto(ctx context.Context, cli *mautrix.Client, dir string, minTrust id.TrustState) (func(), error) {
	db, err := cryptodb.Open(filepath.Join(dir, "crypto.db"))
	if err != nil {
		return nil, err
	}
	h, err := cryptohelper.NewCryptoHelper(cli, []byte("matrixtest pickle key"), db)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := h.Init(ctx); err != nil {
		return nil, err
	}
	h.Machine().SendKeysMinTrust = minTrust
	cli.Crypto = h
	return func() { _ = h.Close() }, nil
}
