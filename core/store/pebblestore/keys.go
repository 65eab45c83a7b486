package pebblestore

import (
	"encoding/binary"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

// Table prefixes: the first byte of every key. The values are part of the
// on-disk format; never renumber them, only add new ones.
const (
	tUser        byte = 0x01 // user_id → User
	tCredentials byte = 0x02 // login → Credentials
	tToken       byte = 0x03 // hash → Token
	tApplication byte = 0x04 // application_id → Application
	tDM          byte = 0x05 // channel_id → Channel (DMs and group DMs)
	tGuild       byte = 0x06 // guild_id, kind, sub-key → guild metadata
	tInviteIndex byte = 0x07 // code → guild_id
	tChannelDir  byte = 0x08 // channel_id → guild_id (0 for DMs)

	tMessage  byte = 0x10 // channel_id, ^bucket, ^message_id → message
	tReaction byte = 0x11 // channel_id, message_id, len(emoji), emoji, user_id → ""
	tPin      byte = 0x12 // channel_id, ^message_id → ""
	tFile     byte = 0x13 // channel_id, file_id, chunk → bytes; chunk fileSizeChunk → size
)

// Sub-kinds under tGuild. The guild record sorts first so ForEachGuild
// meets it before the rest of the guild.
const (
	gGuild   byte = 0x00
	gChannel byte = 0x01
	gRole    byte = 0x02
	gMember  byte = 0x03
	gBan     byte = 0x04
	gInvite  byte = 0x05
)

// Key sizes of the fixed-width layouts.
const (
	guildKeyLen   = 1 + 8 + 1     // tGuild, guild_id, kind
	messageKeyLen = 1 + 8 + 4 + 8 // tMessage, channel_id, ^bucket, ^message_id
	pinKeyLen     = 1 + 8 + 8     // tPin, channel_id, ^message_id
)

func idKey(table byte, id store.ID) []byte {
	k := make([]byte, 9)
	k[0] = table
	binary.BigEndian.PutUint64(k[1:], uint64(id))
	return k
}

func bytesKey(table byte, b []byte) []byte {
	k := make([]byte, 1+len(b))
	k[0] = table
	copy(k[1:], b)
	return k
}

func idFromKey(k []byte) store.ID { return store.ID(binary.BigEndian.Uint64(k[1:9])) }

// guildKey is tGuild, guild_id, kind; sub-keys are appended to it.
func guildKey(guildID store.ID, kind byte, extra int) []byte {
	k := make([]byte, guildKeyLen, guildKeyLen+extra)
	k[0] = tGuild
	binary.BigEndian.PutUint64(k[1:], uint64(guildID))
	k[9] = kind
	return k
}

func guildIDKey(guildID store.ID, kind byte, id store.ID) []byte {
	return binary.BigEndian.AppendUint64(guildKey(guildID, kind, 8), uint64(id))
}

func guildInviteKey(guildID store.ID, code string) []byte {
	return append(guildKey(guildID, gInvite, len(code)), code...)
}

// guildPrefix covers every record of one guild.
func guildPrefix(guildID store.ID) []byte { return idKey(tGuild, guildID) }

// The bucket takes 4 bytes: model.Bucket of the largest possible ID is about
// 5,100, far below 2^32. Bucket and ID are both inverted so that a forward
// scan starts at the newest message, which makes "latest N", "before" and
// LatestMessageID a seek plus N nexts. The bucket does not change the order
// (it grows with the ID); it is there so a bucket, like a Cassandra
// partition, is one contiguous range that retention can drop with one range
// deletion.
func messageKey(channelID, messageID store.ID) []byte {
	k := make([]byte, messageKeyLen)
	k[0] = tMessage
	binary.BigEndian.PutUint64(k[1:], uint64(channelID))
	binary.BigEndian.PutUint32(k[9:], ^uint32(model.Bucket(messageID)))
	binary.BigEndian.PutUint64(k[13:], ^uint64(messageID))
	return k
}

func messageIDFromKey(k []byte) store.ID { return store.ID(^binary.BigEndian.Uint64(k[13:21])) }

func pinKey(channelID, messageID store.ID) []byte {
	k := make([]byte, pinKeyLen)
	k[0] = tPin
	binary.BigEndian.PutUint64(k[1:], uint64(channelID))
	binary.BigEndian.PutUint64(k[9:], ^uint64(messageID))
	return k
}

func pinIDFromKey(k []byte) store.ID { return store.ID(^binary.BigEndian.Uint64(k[9:17])) }

// reactionPrefix covers every reaction on a message, or with a non-empty
// emoji, every user of that emoji. The emoji is length-prefixed so that one
// emoji's range never contains another emoji that merely starts with it.
func reactionPrefix(channelID, messageID store.ID, emoji string) []byte {
	k := make([]byte, 17, 17+binary.MaxVarintLen64+len(emoji)+8)
	k[0] = tReaction
	binary.BigEndian.PutUint64(k[1:], uint64(channelID))
	binary.BigEndian.PutUint64(k[9:], uint64(messageID))
	if emoji != "" {
		k = binary.AppendUvarint(k, uint64(len(emoji)))
		k = append(k, emoji...)
	}
	return k
}

func reactionKey(channelID, messageID store.ID, emoji string, userID store.ID) []byte {
	return binary.BigEndian.AppendUint64(reactionPrefix(channelID, messageID, emoji), uint64(userID))
}

// channelPrefix covers all of a channel's rows in a per-channel table
// (messages, reactions, pins).
func channelPrefix(table byte, channelID store.ID) []byte { return idKey(table, channelID) }

// prefixEnd returns the smallest key greater than every key that starts
// with p: an exclusive upper bound for iterators and range deletions.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil // p was all 0xff: no upper bound
}
