//go:build goolm || libolm

package matrix

import (
	"context"
	"errors"

	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// DecryptStored fetches an event from the server and decrypts it with the
// room keys in the bot's crypto store alone (no key requests, no waiting),
// returning its body and where the bot got the key from.
func (a *Adapter) DecryptStored(ctx context.Context, room id.RoomID, evtID id.EventID) (string, id.KeySource, error) {
	h, ok := a.cli.Crypto.(*cryptohelper.CryptoHelper)
	if !ok {
		return "", "", errors.New("no encryption")
	}
	evt, err := a.cli.GetEvent(ctx, room, evtID)
	if err != nil {
		return "", "", err
	}
	if err := evt.Content.ParseRaw(evt.Type); err != nil {
		return "", "", err
	}
	dec, err := h.Machine().DecryptMegolmEvent(ctx, evt)
	if err != nil {
		return "", "", err
	}
	body := ""
	if m, ok := dec.Content.Parsed.(*event.MessageEventContent); ok {
		body = m.Body
	}
	var src id.KeySource
	if s, err := h.Machine().CryptoStore.GetGroupSession(ctx, room, evt.Content.AsEncrypted().SessionID); err == nil && s != nil {
		src = s.KeySource
	}
	return body, src, nil
}
