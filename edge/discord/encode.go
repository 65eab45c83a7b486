package discord

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/accord-chat/accord/core/model"
)

// Messages are the bulk of what Accord sends (a history page is fifty of
// them, a fan-out one per event), and reflection-based encoding of their
// many small fields (snowflakes and timestamps with their own marshalers)
// was the largest CPU cost of a history read. AppendJSON writes the same
// JSON by hand; TestAppendJSONMatchesReflection keeps the two in step.

// AppendJSON appends the message's JSON encoding to b.
func (m *Message) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendID(b, m.ID)
	b = append(b, `,"type":`...)
	b = strconv.AppendInt(b, int64(m.Type), 10)
	b = append(b, `,"channel_id":`...)
	b = appendID(b, m.ChannelID)
	if m.GuildID != 0 {
		b = append(b, `,"guild_id":`...)
		b = appendID(b, m.GuildID)
	}
	b = append(b, `,"author":`...)
	b = appendUser(b, m.Author)
	if m.Member != nil {
		b = append(b, `,"member":`...)
		b = m.Member.AppendJSON(b)
	}
	b = append(b, `,"content":`...)
	b = appendString(b, m.Content)
	b = append(b, `,"timestamp":`...)
	b = appendTime(b, time.Time(m.Timestamp))
	b = append(b, `,"edited_timestamp":`...)
	b = appendTimePtr(b, m.EditedTimestamp)
	b = append(b, `,"tts":`...)
	b = strconv.AppendBool(b, m.TTS)
	b = append(b, `,"mention_everyone":`...)
	b = strconv.AppendBool(b, m.MentionEveryone)
	b = append(b, `,"mentions":`...)
	if m.Mentions == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range m.Mentions {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendMentioned(b, &m.Mentions[i])
		}
		b = append(b, ']')
	}
	b = append(b, `,"mention_roles":`...)
	b = appendIDs(b, m.MentionRoles)
	b = append(b, `,"attachments":`...)
	switch {
	case m.Attachments == nil:
		b = append(b, "null"...)
	case len(m.Attachments) == 0:
		b = append(b, "[]"...)
	default:
		b = appendMarshal(b, m.Attachments)
	}
	b = append(b, `,"embeds":`...)
	b = appendRawList(b, m.Embeds)
	if len(m.Reactions) > 0 {
		b = append(b, `,"reactions":`...)
		b = appendMarshal(b, m.Reactions)
	}
	if len(m.Nonce) > 0 {
		b = append(b, `,"nonce":`...)
		b = append(b, m.Nonce...)
	}
	b = append(b, `,"pinned":`...)
	b = strconv.AppendBool(b, m.Pinned)
	b = append(b, `,"flags":`...)
	b = strconv.AppendInt(b, int64(m.Flags), 10)
	b = append(b, `,"components":`...)
	b = appendRawList(b, m.Components)
	if m.MessageReference != nil {
		b = append(b, `,"message_reference":`...)
		b = appendMarshal(b, m.MessageReference)
	}
	switch rm := m.ReferencedMessage.(type) {
	case nil:
	case *Message:
		b = append(b, `,"referenced_message":`...)
		if rm == nil {
			b = append(b, "null"...)
		} else {
			b = rm.AppendJSON(b)
		}
	default:
		b = append(b, `,"referenced_message":`...)
		b = appendMarshal(b, rm)
	}
	return append(b, '}')
}

// MarshalJSON lets encoding/json use the hand-written encoder for a
// message nested in other values.
func (m *Message) MarshalJSON() ([]byte, error) { return m.AppendJSON(nil), nil }

// AppendMessages appends a JSON array of messages.
func AppendMessages(b []byte, ms []*Message) []byte {
	b = append(b, '[')
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = m.AppendJSON(b)
	}
	return append(b, ']')
}

// AppendJSON appends the member's JSON encoding to b.
func (mb *Member) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	if mb.User != nil {
		b = append(b, `"user":`...)
		b = appendUser(b, mb.User)
		b = append(b, ',')
	}
	b = append(b, `"nick":`...)
	b = appendStrPtr(b, mb.Nick)
	b = append(b, `,"avatar":`...)
	b = appendStrPtr(b, mb.Avatar)
	b = append(b, `,"banner":`...)
	b = appendStrPtr(b, mb.Banner)
	b = append(b, `,"roles":`...)
	b = appendIDs(b, mb.Roles)
	b = append(b, `,"joined_at":`...)
	b = appendTime(b, time.Time(mb.JoinedAt))
	b = append(b, `,"premium_since":`...)
	b = appendTimePtr(b, mb.PremiumSince)
	b = append(b, `,"deaf":`...)
	b = strconv.AppendBool(b, mb.Deaf)
	b = append(b, `,"mute":`...)
	b = strconv.AppendBool(b, mb.Mute)
	b = append(b, `,"flags":`...)
	b = strconv.AppendInt(b, int64(mb.Flags), 10)
	b = append(b, `,"pending":`...)
	b = strconv.AppendBool(b, mb.Pending)
	if mb.Permissions != "" {
		b = append(b, `,"permissions":`...)
		b = appendString(b, mb.Permissions)
	}
	b = append(b, `,"communication_disabled_until":`...)
	b = appendTimePtr(b, mb.CommunicationDisabledUntil)
	if mb.GuildID != 0 {
		b = append(b, `,"guild_id":`...)
		b = appendID(b, mb.GuildID)
	}
	return append(b, '}')
}

// MarshalJSON uses the hand-written encoder.
func (mb *Member) MarshalJSON() ([]byte, error) { return mb.AppendJSON(nil), nil }

func appendMentioned(b []byte, mu *MentionedUser) []byte {
	b = appendUser(b, mu.User)
	if mu.Member == nil || mu.User == nil {
		return b
	}
	b = b[:len(b)-1] // reopen the user object to add its member
	b = append(b, `,"member":`...)
	b = mu.Member.AppendJSON(b)
	return append(b, '}')
}

func appendUser(b []byte, u *model.User) []byte {
	if u == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"id":`...)
	b = appendID(b, u.ID)
	b = append(b, `,"username":`...)
	b = appendString(b, u.Username)
	b = append(b, `,"discriminator":`...)
	b = appendString(b, u.Discriminator)
	b = append(b, `,"global_name":`...)
	b = appendStrPtr(b, u.GlobalName)
	b = append(b, `,"avatar":`...)
	b = appendStrPtr(b, u.Avatar)
	if u.Bot {
		b = append(b, `,"bot":true`...)
	}
	if u.System {
		b = append(b, `,"system":true`...)
	}
	b = append(b, `,"mfa_enabled":`...)
	b = strconv.AppendBool(b, u.MFAEnabled)
	b = append(b, `,"banner":`...)
	b = appendStrPtr(b, u.Banner)
	b = append(b, `,"accent_color":`...)
	if u.AccentColor == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, int64(*u.AccentColor), 10)
	}
	if u.Locale != "" {
		b = append(b, `,"locale":`...)
		b = appendString(b, u.Locale)
	}
	b = append(b, `,"verified":`...)
	b = strconv.AppendBool(b, u.Verified)
	b = append(b, `,"email":`...)
	b = appendStrPtr(b, u.Email)
	b = append(b, `,"flags":`...)
	b = strconv.AppendInt(b, int64(u.Flags), 10)
	b = append(b, `,"premium_type":`...)
	b = strconv.AppendInt(b, int64(u.PremiumType), 10)
	b = append(b, `,"public_flags":`...)
	b = strconv.AppendInt(b, int64(u.PublicFlags), 10)
	return append(b, '}')
}

func appendID(b []byte, id ID) []byte {
	if id == 0 {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = strconv.AppendUint(b, uint64(id), 10)
	return append(b, '"')
}

func appendIDs(b []byte, ids []ID) []byte {
	if ids == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendID(b, id)
	}
	return append(b, ']')
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, timestampLayout)
	return append(b, '"')
}

func appendTimePtr(b []byte, t *Timestamp) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return appendTime(b, time.Time(*t))
}

func appendStrPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

func appendRawList(b []byte, items []json.RawMessage) []byte {
	if items == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	return append(b, ']')
}

// appendMarshal is the reflection fallback for rare, small fields.
func appendMarshal(b []byte, v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

const hexDigits = "0123456789abcdef"

// appendString writes a JSON string the way encoding/json does: control
// characters, quotes and backslashes escaped, <, > and & escaped for HTML
// safety, U+2028/U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
