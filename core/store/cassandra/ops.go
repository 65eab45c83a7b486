package cassandra

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gocql/gocql"

	"github.com/accord-chat/accord/core/store"
)

func invalid(what string, args ...any) error {
	return fmt.Errorf("%w: %s", errInvalidOp, fmt.Sprintf(what, args...))
}

// validate checks that op has what its kind needs (see store/batch.go),
// the same checks as the embedded store's.
func validate(op *store.Op) error {
	switch op.Kind {
	case store.OpPutUser:
		if op.User == nil || op.User.ID == 0 {
			return invalid("put user: missing user or user ID")
		}
	case store.OpPutCredentials:
		if op.Credentials == nil || op.Credentials.Login == "" {
			return invalid("put credentials: missing credentials or login")
		}
	case store.OpPutToken:
		if op.Token == nil || len(op.Token.Hash) == 0 {
			return invalid("put token: missing token or hash")
		}
	case store.OpDeleteToken:
		if len(op.Hash) == 0 {
			return invalid("delete token: missing hash")
		}
	case store.OpPutApplication:
		if op.Application == nil || op.Application.ID == 0 {
			return invalid("put application: missing application or ID")
		}
	case store.OpPutGuild:
		if op.Guild == nil || op.Guild.ID == 0 {
			return invalid("put guild: missing guild or ID")
		}
	case store.OpDeleteGuild:
		if op.GuildID == 0 {
			return invalid("delete guild: missing guild ID")
		}
	case store.OpPutChannel:
		if op.Channel == nil || op.Channel.ID == 0 {
			return invalid("put channel: missing channel or ID")
		}
	case store.OpDeleteChannel:
		if orID(op.ChannelID, op.ID) == 0 {
			return invalid("delete channel: missing channel ID")
		}
	case store.OpPutRole:
		if op.Role == nil || op.Role.ID == 0 || op.GuildID == 0 {
			return invalid("put role: missing role, role ID or guild ID")
		}
	case store.OpDeleteRole:
		if op.GuildID == 0 || op.ID == 0 {
			return invalid("delete role: missing guild ID or role ID")
		}
	case store.OpPutMember:
		if op.Member == nil || orID(op.Member.GuildID, op.GuildID) == 0 || op.Member.UserID == 0 {
			return invalid("put member: missing member, guild ID or user ID")
		}
	case store.OpPutBan:
		if op.Ban == nil || orID(op.Ban.GuildID, op.GuildID) == 0 || op.Ban.UserID == 0 {
			return invalid("put ban: missing ban, guild ID or user ID")
		}
	case store.OpDeleteMember, store.OpDeleteBan:
		if op.GuildID == 0 || op.UserID == 0 {
			return invalid("%s: missing guild ID or user ID", op.Kind)
		}
	case store.OpPutInvite:
		if op.Invite == nil || op.Invite.Code == "" || orID(op.Invite.GuildID, op.GuildID) == 0 {
			return invalid("put invite: missing invite, code or guild ID")
		}
	case store.OpDeleteInvite:
		if op.Code == "" {
			return invalid("delete invite: missing code")
		}
	case store.OpPutMessage:
		if m := op.Message; m == nil || m.ChannelID == 0 || m.ID == 0 {
			return invalid("put message: missing message, channel ID or ID")
		}
	case store.OpDeleteMessage, store.OpDeleteReactions:
		if op.ChannelID == 0 || op.ID == 0 {
			return invalid("%s: missing channel ID or message ID", op.Kind)
		}
	case store.OpPutReaction, store.OpDeleteReaction:
		if op.ChannelID == 0 || op.ID == 0 || op.Emoji == "" || op.UserID == 0 {
			return invalid("%s: missing channel ID, message ID, emoji or user ID", op.Kind)
		}
	default:
		return invalid("unknown op kind %d", op.Kind)
	}
	return nil
}

// putMessage writes the whole row: every column, none null (see
// messageExtra). A pinned message also gets its pin row; an unpinned one
// leaves any old pin row for ListPins to find stale, which spares every
// message create a read or a tombstone.
func (w *writer) putMessage(op *store.Op, ts int64) error {
	m := op.Message
	args, err := messageArgs(m, ts)
	if err != nil {
		return fmt.Errorf("put message %d: encode: %w", m.ID, err)
	}
	ch, b := sid(m.ChannelID), bucketOf(m.ID)
	w.add(qInsertMessage, partition{table: "messages", k1: ch, k2: int64(b)}, args...)
	if m.Pinned {
		w.add(qPutPin, idPart("pins", m.ChannelID), ch, sid(m.ID), b, ts)
	}
	k := marker{channel: m.ChannelID, bucket: b}
	if !slices.Contains(w.markers, k) && !w.s.markers.has(k) {
		w.markers = append(w.markers, k)
		w.add(qPutBucket, idPart("channel_buckets", m.ChannelID), ch, b, ts)
	}
	return nil
}

// inviteGuild returns the guild that holds code, as of the earlier ops of
// the batch; found is false when no guild does.
func (w *writer) inviteGuild(code string) (gid store.ID, found bool, err error) {
	if g, ok := w.invites[code]; ok {
		return g, g != 0, nil
	}
	var v int64
	err = w.s.sess.Query(qInviteGuild, code).WithContext(w.ctx).Scan(&v)
	if errors.Is(err, gocql.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read invite %q: %w", code, err)
	}
	return fromSID(v), true, nil
}

func (w *writer) putInvite(op *store.Op, ts int64) error {
	inv := op.Invite
	gid := orID(inv.GuildID, op.GuildID)
	old, found, err := w.inviteGuild(inv.Code)
	if err != nil {
		return err
	}
	// Codes are global: a code that moves to another guild must leave the
	// old one, or both guilds would list it.
	if found && old != gid {
		w.add(qDelGuildInvite, idPart("guild_invites", old), ts, sid(old), inv.Code)
	}
	if err := w.putJSON(qPutGuildInvite, idPart("guild_invites", gid), inv, ts, sid(gid), inv.Code); err != nil {
		return err
	}
	if err := w.putJSON(qPutInvite, partition{table: "invites", k3: inv.Code}, inv, ts, inv.Code, sid(gid)); err != nil {
		return err
	}
	w.invites[inv.Code] = gid
	return nil
}

func (w *writer) deleteInvite(code string, guildHint store.ID, ts int64) error {
	gid, found, err := w.inviteGuild(code)
	if err != nil {
		return err
	}
	if !found {
		gid = guildHint
	}
	if gid != 0 {
		w.add(qDelGuildInvite, idPart("guild_invites", gid), ts, sid(gid), code)
	}
	if guildHint != 0 && guildHint != gid {
		w.add(qDelGuildInvite, idPart("guild_invites", guildHint), ts, sid(guildHint), code)
	}
	w.add(qDelInvite, partition{table: "invites", k3: code}, ts, code)
	w.invites[code] = 0
	return nil
}

// deleteGuild drops the guild's six partitions and the by-code rows of its
// invites. Each code listed under the guild points back at it (putInvite
// keeps that true), so those rows are deleted without reading them.
func (w *writer) deleteGuild(gid store.ID, ts int64) error {
	var codes []string
	iter := w.s.sess.Query(qGuildInviteCodes, sid(gid)).WithContext(w.ctx).Iter()
	var code string
	for iter.Scan(&code) {
		codes = append(codes, code)
	}
	if err := iter.Close(); err != nil {
		return fmt.Errorf("delete guild %d: list invites: %w", gid, err)
	}
	for c, g := range w.invites {
		if g == gid && !slices.Contains(codes, c) {
			codes = append(codes, c)
		}
	}
	for _, c := range codes {
		if g, ok := w.invites[c]; ok && g != gid {
			continue // moved or deleted earlier in the batch
		}
		w.add(qDelInvite, partition{table: "invites", k3: c}, ts, c)
		w.invites[c] = 0
	}
	for _, d := range []struct{ q, table string }{
		{qDelGuild, "guilds"}, {qDelGuildChannels, "guild_channels"}, {qDelGuildRoles, "guild_roles"},
		{qDelGuildMembers, "guild_members"}, {qDelGuildBans, "guild_bans"}, {qDelGuildInvites, "guild_invites"},
	} {
		w.add(d.q, idPart(d.table, gid), ts, sid(gid))
	}
	return nil
}
