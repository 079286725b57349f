package matrix

import (
	"context"
	"errors"
	"fmt"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/secgpt-go/secgpt/core/chat"
	"github.com/secgpt-go/secgpt/core/ids"
)

// maxDMSearch bounds how many joined rooms Notify looks through for a
// direct room the user opened: a bot in thousands of rooms would otherwise
// list every room's members for one notice.
const maxDMSearch = 200

// Notify posts n to the user's direct room with the bot: the room the
// bot's m.direct account data names for them, else a room the bot shares
// with them alone (one they opened), else a new room the bot creates and
// invites them to, encrypted when the bot can encrypt. Matrix has no
// buttons: n's text says the command that undoes it. A notice is the
// assistant's own words about the user's account: it never goes to a room
// anyone else is in.
func (a *Adapter) Notify(ctx context.Context, user ids.UserID, n chat.Notice) error {
	u := matrixUser(user)
	if u == "" {
		return fmt.Errorf("matrix notice: %q is not a Matrix user", user)
	}
	if !a.cfg.allowed(u) {
		return fmt.Errorf("matrix notice: %s may not talk to this bot", u)
	}
	if a.cli == nil {
		return errors.New("matrix notice: the bot is not running")
	}
	room, err := a.directRoom(ctx, u)
	if err != nil {
		return fmt.Errorf("matrix notice to %s: %w", u, err)
	}
	c := &conversation{a: a, room: room}
	if err := c.send(ctx, renderMarkdown(chat.Neutralize(n.Text))); err != nil {
		return fmt.Errorf("matrix notice to %s: %w", u, err)
	}
	return nil
}

var _ chat.Notifier = (*Adapter)(nil)

// directRoom finds or makes the room where only the bot and u are.
func (a *Adapter) directRoom(ctx context.Context, u id.UserID) (id.RoomID, error) {
	var direct event.DirectChatsEventContent
	err := retry(ctx, a.cfg.RetryBase, a.cfg.RetryMax, func(ctx context.Context) error {
		err := a.cli.GetAccountData(ctx, event.AccountDataDirectChats.Type, &direct)
		if errors.Is(err, mautrix.MNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("read m.direct: %w", err)
	}
	for _, r := range direct[u] {
		if a.onlyWith(ctx, r, u) {
			return r, nil
		}
	}
	var joined *mautrix.RespJoinedRooms
	err = retry(ctx, a.cfg.RetryBase, a.cfg.RetryMax, func(ctx context.Context) (err error) {
		joined, err = a.cli.JoinedRooms(ctx)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("list joined rooms: %w", err)
	}
	for i, r := range joined.JoinedRooms {
		if i >= maxDMSearch {
			break
		}
		if a.onlyWith(ctx, r, u) {
			a.rememberDirect(ctx, direct, u, r)
			return r, nil
		}
	}
	req := &mautrix.ReqCreateRoom{Preset: "trusted_private_chat", IsDirect: true, Invite: []id.UserID{u}}
	if a.e2ee != nil {
		req.InitialState = []*event.Event{{
			Type:    event.StateEncryption,
			Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
		}}
	}
	var created *mautrix.RespCreateRoom
	// Not retried: a retry after a lost response would make a second room.
	created, err = a.cli.CreateRoom(ctx, req)
	if err != nil {
		return "", fmt.Errorf("create a direct room: %w", err)
	}
	a.rememberDirect(ctx, direct, u, created.RoomID)
	return created.RoomID, nil
}

// onlyWith reports whether the bot is in room with u and nobody else
// (joined or invited).
func (a *Adapter) onlyWith(ctx context.Context, room id.RoomID, u id.UserID) bool {
	resp, err := a.roomMembers(ctx, room)
	if err != nil {
		return false
	}
	self, other := false, false
	for _, e := range resp.Chunk {
		m := membership(e)
		if m != event.MembershipJoin && m != event.MembershipInvite {
			continue
		}
		switch id.UserID(e.GetStateKey()) {
		case a.cli.UserID:
			self = m == event.MembershipJoin
		case u:
			other = true
		default:
			return false
		}
	}
	return self && other
}

// rememberDirect records room as the bot's direct room with u in its
// m.direct account data, so a later notice (after a restart too) finds it
// first. Failing to record it costs only a search next time.
func (a *Adapter) rememberDirect(ctx context.Context, direct event.DirectChatsEventContent, u id.UserID, room id.RoomID) {
	if direct == nil {
		direct = event.DirectChatsEventContent{}
	}
	direct[u] = append([]id.RoomID{room}, direct[u]...)
	if err := a.cli.SetAccountData(ctx, event.AccountDataDirectChats.Type, direct); err != nil {
		a.log.Warn("record matrix direct room", "user", u, "room", room, "err", err)
	}
}
