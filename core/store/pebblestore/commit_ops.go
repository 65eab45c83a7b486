package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

// The ops that read before they write, or that touch more than one table.

// lookupID reads a value that is a guild ID (the channel directory and the
// invite index). found is false when there is no entry.
func (w *writer) lookupID(k []byte) (id store.ID, found bool, err error) {
	err = getValue(w.r, k, func(v []byte) error {
		if len(v) != 8 {
			return errCorrupt
		}
		id, found = store.ID(binary.BigEndian.Uint64(v)), true
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return 0, false, nil
	}
	return id, found, err
}

func guildIDValue(id store.ID) []byte { return binary.BigEndian.AppendUint64(nil, uint64(id)) }

func (w *writer) putChannel(c *model.Channel) error {
	if c == nil || c.ID == 0 {
		return invalid("put channel: missing channel or ID")
	}
	// A channel without a guild is a DM or group DM.
	k := idKey(tDM, c.ID)
	if c.GuildID != 0 {
		k = guildIDKey(c.GuildID, gChannel, c.ID)
	}
	if err := w.putJSON(k, c, "put channel %d", c.ID); err != nil {
		return err
	}
	// The directory lets DeleteChannel find the guild from the channel ID
	// alone.
	return w.set(idKey(tChannelDir, c.ID), guildIDValue(c.GuildID), "put channel %d: directory", c.ID)
}

func (w *writer) deleteChannel(id, guildHint store.ID) error {
	gid, _, err := w.lookupID(idKey(tChannelDir, id))
	if err != nil {
		return fmt.Errorf("delete channel %d: read directory: %w", id, err)
	}
	for _, g := range []store.ID{gid, guildHint} {
		if g != 0 {
			if err := w.del(guildIDKey(g, gChannel, id), "delete channel %d of guild %d", id, g); err != nil {
				return err
			}
		}
	}
	if err := w.del(idKey(tDM, id), "delete channel %d", id); err != nil {
		return err
	}
	if err := w.del(idKey(tChannelDir, id), "delete channel %d: directory", id); err != nil {
		return err
	}
	return w.dropChannelData(id)
}

// dropChannelData removes a channel's messages, reactions and pins.
func (w *writer) dropChannelData(id store.ID) error {
	for _, t := range []byte{tMessage, tReaction, tPin} {
		if err := w.delPrefix(channelPrefix(t, id), "delete channel %d: drop table %#x", id, t); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) deleteGuild(gid store.ID) error {
	// The guild's own records go with one range deletion, but the channel
	// directory, the invite index and the channels' messages live
	// elsewhere, so list the channels and invites first.
	var channels []store.ID
	err := scan(w.r, guildKey(gid, gChannel, 0), func(k, _ []byte) error {
		if len(k) != guildKeyLen+8 {
			return errCorrupt
		}
		channels = append(channels, store.ID(binary.BigEndian.Uint64(k[guildKeyLen:])))
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete guild %d: list channels: %w", gid, err)
	}
	var codes []string
	err = scan(w.r, guildKey(gid, gInvite, 0), func(k, _ []byte) error {
		codes = append(codes, string(k[guildKeyLen:]))
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete guild %d: list invites: %w", gid, err)
	}

	for _, id := range channels {
		if err := w.del(idKey(tChannelDir, id), "delete guild %d: channel %d directory", gid, id); err != nil {
			return err
		}
		if err := w.dropChannelData(id); err != nil {
			return fmt.Errorf("delete guild %d: %w", gid, err)
		}
	}
	for _, code := range codes {
		if err := w.dropInviteIndex(code, gid); err != nil {
			return fmt.Errorf("delete guild %d: %w", gid, err)
		}
	}
	return w.delPrefix(guildPrefix(gid), "delete guild %d", gid)
}

func (w *writer) putInvite(inv *model.Invite, guildHint store.ID) error {
	if inv == nil || inv.Code == "" {
		return invalid("put invite: missing invite or code")
	}
	gid := orID(inv.GuildID, guildHint)
	if gid == 0 {
		return invalid("put invite %q: missing guild ID", inv.Code)
	}
	idx := bytesKey(tInviteIndex, []byte(inv.Code))
	old, found, err := w.lookupID(idx)
	if err != nil {
		return fmt.Errorf("put invite %q: read index: %w", inv.Code, err)
	}
	// Codes are global: a code that moves to another guild must leave the
	// old one, or both guilds would list it.
	if found && old != gid {
		if err := w.del(guildInviteKey(old, inv.Code), "put invite %q: drop from guild %d", inv.Code, old); err != nil {
			return err
		}
	}
	if err := w.putJSON(guildInviteKey(gid, inv.Code), inv, "put invite %q", inv.Code); err != nil {
		return err
	}
	return w.set(idx, guildIDValue(gid), "put invite %q: index", inv.Code)
}

func (w *writer) deleteInvite(code string, guildHint store.ID) error {
	gid, found, err := w.lookupID(bytesKey(tInviteIndex, []byte(code)))
	if err != nil {
		return fmt.Errorf("delete invite %q: read index: %w", code, err)
	}
	if !found {
		gid = guildHint
	}
	if gid != 0 {
		if err := w.del(guildInviteKey(gid, code), "delete invite %q", code); err != nil {
			return err
		}
	}
	return w.del(bytesKey(tInviteIndex, []byte(code)), "delete invite %q: index", code)
}

// dropInviteIndex removes the index entry of code if it points at gid.
func (w *writer) dropInviteIndex(code string, gid store.ID) error {
	idx := bytesKey(tInviteIndex, []byte(code))
	cur, found, err := w.lookupID(idx)
	if err != nil {
		return fmt.Errorf("invite %q: read index: %w", code, err)
	}
	if !found || cur != gid {
		return nil
	}
	return w.del(idx, "invite %q: index", code)
}

// wasPinned reads the pinned flag of the stored message at k.
func (w *writer) wasPinned(k []byte) (bool, error) {
	var pinned bool
	err := getValue(w.r, k, func(v []byte) error {
		pinned = messagePinned(v)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return pinned, err
}

func (w *writer) putMessage(m *model.Message, isNew bool) error {
	if m == nil || m.ChannelID == 0 || m.ID == 0 {
		return invalid("put message: missing message, channel ID or ID")
	}
	k := messageKey(m.ChannelID, m.ID)
	pk := pinKey(m.ChannelID, m.ID)
	if m.Pinned {
		// Set blindly: writing the entry again costs less than reading
		// whether it is there.
		if err := w.set(pk, nil, "put message %d: pin", m.ID); err != nil {
			return err
		}
	} else if !isNew {
		// Only a message that was pinned has an entry to remove; reading
		// first avoids a tombstone per message create. A new message has
		// no earlier version to read.
		pinned, err := w.wasPinned(k)
		if err != nil {
			return fmt.Errorf("put message %d: read previous: %w", m.ID, err)
		}
		if pinned {
			if err := w.del(pk, "put message %d: unpin", m.ID); err != nil {
				return err
			}
		}
	}
	v, err := w.enc.encodeMessage(m)
	if err != nil {
		return fmt.Errorf("put message %d: encode: %w", m.ID, err)
	}
	return w.set(k, v, "put message %d", m.ID)
}

func (w *writer) deleteMessage(channelID, id store.ID) error {
	k := messageKey(channelID, id)
	pinned, err := w.wasPinned(k)
	if err != nil {
		return fmt.Errorf("delete message %d: read previous: %w", id, err)
	}
	if pinned {
		if err := w.del(pinKey(channelID, id), "delete message %d: unpin", id); err != nil {
			return err
		}
	}
	if err := w.del(k, "delete message %d", id); err != nil {
		return err
	}
	return w.delPrefix(reactionPrefix(channelID, id, ""), "delete message %d: reactions", id)
}
