package model

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/accord-chat/accord/core/snowflake"
)

type ID = snowflake.ID

// Channel types (Discord's numbering).
const (
	ChannelGuildText     = 0
	ChannelDM            = 1
	ChannelGuildVoice    = 2
	ChannelGroupDM       = 3
	ChannelGuildCategory = 4
)

// Overwrite target types.
const (
	OverwriteRole   = 0
	OverwriteMember = 1
)

// Message types.
const (
	MessageDefault = 0
	MessageReply   = 19
)

// User is an account, human or bot. Discriminator is always "0" (Discord's
// unique-username system).
type User struct {
	ID            ID      `json:"id"`
	Username      string  `json:"username"`
	Discriminator string  `json:"discriminator"`
	GlobalName    *string `json:"global_name"`
	Avatar        *string `json:"avatar"`
	Bot           bool    `json:"bot,omitempty"`
	System        bool    `json:"system,omitempty"`
	MFAEnabled    bool    `json:"mfa_enabled"`
	Banner        *string `json:"banner"`
	AccentColor   *int    `json:"accent_color"`
	Locale        string  `json:"locale,omitempty"`
	Verified      bool    `json:"verified"`
	Email         *string `json:"email"`
	Flags         int     `json:"flags"`
	PremiumType   int     `json:"premium_type"`
	PublicFlags   int     `json:"public_flags"`
}

// Credentials is what a password login checks. Kept apart from User so a
// User can be handed out without any secret in it.
type Credentials struct {
	UserID       ID     `json:"user_id"`
	Login        string `json:"login"` // lower-cased username
	PasswordHash string `json:"password_hash"`
	// TokensAfter revokes every token of the user created before it: a
	// password change sets it, as Discord logs a password change out of
	// every other device. Zero for an account that never changed it.
	TokensAfter time.Time `json:"tokens_after,omitzero"`
}

// LoginKey is the key a username's credentials are stored under: logins
// ignore case.
func LoginKey(username string) string { return strings.ToLower(username) }

// Token is a stored API token. Only the SHA-256 of the token is kept.
type Token struct {
	Hash      []byte    `json:"hash"`
	UserID    ID        `json:"user_id"`
	Bot       bool      `json:"bot"`
	CreatedAt time.Time `json:"created_at"`
}

// Application is a bot application. Its bot user has the same ID as the
// application, as on Discord.
type Application struct {
	ID          ID     `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	OwnerID     ID     `json:"owner_id"`
	BotPublic   bool   `json:"bot_public"`
	VerifyKey   string `json:"verify_key"`
	Flags       int    `json:"flags"`
	// BotTokenHash is the digest of the bot's current token, revoked when
	// the token is reset.
	BotTokenHash []byte `json:"bot_token_hash,omitempty"`
}

// Guild is a community.
type Guild struct {
	ID                          ID      `json:"id"`
	Name                        string  `json:"name"`
	Icon                        *string `json:"icon"`
	Description                 *string `json:"description"`
	OwnerID                     ID      `json:"owner_id"`
	AFKChannelID                ID      `json:"afk_channel_id"`
	AFKTimeout                  int     `json:"afk_timeout"`
	SystemChannelID             ID      `json:"system_channel_id"`
	VerificationLevel           int     `json:"verification_level"`
	DefaultMessageNotifications int     `json:"default_message_notifications"`
	ExplicitContentFilter       int     `json:"explicit_content_filter"`
	PreferredLocale             string  `json:"preferred_locale"`
}

// Overwrite is a channel permission overwrite. Allow and Deny are permission
// bit sets; on the wire they are strings.
type Overwrite struct {
	ID    ID     `json:"id"`
	Type  int    `json:"type"`
	Allow uint64 `json:"allow,string"`
	Deny  uint64 `json:"deny,string"`
}

// Channel is a guild channel or a DM.
type Channel struct {
	ID                   ID          `json:"id"`
	Type                 int         `json:"type"`
	GuildID              ID          `json:"guild_id,omitempty"`
	Position             int         `json:"position"`
	PermissionOverwrites []Overwrite `json:"permission_overwrites"`
	Name                 string      `json:"name"`
	Topic                *string     `json:"topic"`
	NSFW                 bool        `json:"nsfw"`
	LastMessageID        ID          `json:"last_message_id"`
	Bitrate              int         `json:"bitrate,omitempty"`
	UserLimit            int         `json:"user_limit,omitempty"`
	RateLimitPerUser     int         `json:"rate_limit_per_user"`
	Recipients           []ID        `json:"recipient_ids,omitempty"` // DM participants; rendered as user objects
	ParentID             ID          `json:"parent_id"`
	LastPinTimestamp     *time.Time  `json:"last_pin_timestamp"`
	Flags                int         `json:"flags"`
}

// Role is a guild role. The @everyone role has the guild's ID.
type Role struct {
	ID           ID      `json:"id"`
	Name         string  `json:"name"`
	Color        int     `json:"color"`
	Hoist        bool    `json:"hoist"`
	Icon         *string `json:"icon"`
	UnicodeEmoji *string `json:"unicode_emoji"`
	Position     int     `json:"position"`
	Permissions  uint64  `json:"permissions,string"`
	Managed      bool    `json:"managed"`
	Mentionable  bool    `json:"mentionable"`
	Flags        int     `json:"flags"`
	// Tags say what manages a managed role: a bot's own role names it.
	Tags *RoleTags `json:"tags,omitempty"`
}

// RoleTags is Discord's role tags object.
type RoleTags struct {
	BotID ID `json:"bot_id,omitempty"`
}

// Member is a user's membership in a guild. Roles never includes @everyone.
type Member struct {
	GuildID  ID        `json:"guild_id"`
	UserID   ID        `json:"user_id"`
	Nick     *string   `json:"nick"`
	Roles    []ID      `json:"roles"`
	JoinedAt time.Time `json:"joined_at"`
	Deaf     bool      `json:"deaf"`
	Mute     bool      `json:"mute"`
	Flags    int       `json:"flags"`
	Pending  bool      `json:"pending"`
	// CommunicationDisabledUntil is the end of the member's timeout
	// (nil: none); a time past is no timeout.
	CommunicationDisabledUntil *time.Time `json:"communication_disabled_until,omitempty"`
}

// Ban records a user banned from a guild.
type Ban struct {
	GuildID ID      `json:"guild_id"`
	UserID  ID      `json:"user_id"`
	Reason  *string `json:"reason"`
}

// Invite is a code that lets a user join a guild through a channel.
type Invite struct {
	Code      string    `json:"code"`
	GuildID   ID        `json:"guild_id"`
	ChannelID ID        `json:"channel_id"`
	InviterID ID        `json:"inviter_id"`
	MaxAge    int       `json:"max_age"`  // seconds, 0 = never expires
	MaxUses   int       `json:"max_uses"` // 0 = unlimited
	Uses      int       `json:"uses"`
	Temporary bool      `json:"temporary"`
	CreatedAt time.Time `json:"created_at"`
}

// Expired reports whether the invite can no longer be used at now.
func (i *Invite) Expired(now time.Time) bool {
	if i.MaxAge > 0 && now.After(i.CreatedAt.Add(time.Duration(i.MaxAge)*time.Second)) {
		return true
	}
	return i.MaxUses > 0 && i.Uses >= i.MaxUses
}

// Attachment is a file stored with a message.
type Attachment struct {
	ID          ID     `json:"id"`
	Filename    string `json:"filename"`
	Description string `json:"description,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
	ProxyURL    string `json:"proxy_url"`
	Width       *int   `json:"width,omitempty"`
	Height      *int   `json:"height,omitempty"`
}

// MessageReference points at the message a reply answers.
type MessageReference struct {
	Type      int `json:"type"`
	MessageID ID  `json:"message_id"`
	ChannelID ID  `json:"channel_id"`
	GuildID   ID  `json:"guild_id,omitempty"`
}

// ReactionCount is the per-emoji summary kept in a message. Emoji is the
// unicode emoji or "name:id" for custom emoji.
type ReactionCount struct {
	Emoji string `json:"emoji"`
	Count int    `json:"count"`
}

// Message is a stored message.
type Message struct {
	ID               ID                `json:"id"`
	ChannelID        ID                `json:"channel_id"`
	GuildID          ID                `json:"guild_id,omitempty"`
	AuthorID         ID                `json:"author_id"`
	Content          string            `json:"content"`
	Timestamp        time.Time         `json:"timestamp"`
	EditedTimestamp  *time.Time        `json:"edited_timestamp,omitempty"`
	TTS              bool              `json:"tts,omitempty"`
	MentionEveryone  bool              `json:"mention_everyone,omitempty"`
	Mentions         []ID              `json:"mentions,omitempty"`
	MentionRoles     []ID              `json:"mention_roles,omitempty"`
	Attachments      []Attachment      `json:"attachments,omitempty"`
	Embeds           []json.RawMessage `json:"embeds,omitempty"`
	Nonce            json.RawMessage   `json:"nonce,omitempty"`
	Pinned           bool              `json:"pinned,omitempty"`
	PinnedAt         *time.Time        `json:"pinned_at,omitempty"`
	Type             int               `json:"type,omitempty"`
	Flags            int               `json:"flags,omitempty"`
	MessageReference *MessageReference `json:"message_reference,omitempty"`
	Reactions        []ReactionCount   `json:"reactions,omitempty"`
}

// BucketWindow is the width of a message partition: ten days, as in the
// seed design. A channel's messages live in buckets keyed by
// (channel_id, bucket), so one partition never grows without bound.
const BucketWindow = 10 * 24 * time.Hour

// Bucket returns the time bucket a message ID falls into.
func Bucket(id ID) int64 {
	return (int64(id >> 22)) / BucketWindow.Milliseconds()
}
