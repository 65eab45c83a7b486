package discord

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/snowflake"
)

type ID = snowflake.ID

// Timestamp marshals as ISO-8601 with microseconds and a numeric offset,
// the form Discord sends ("2017-07-11T17:27:07.299000+00:00"); all three
// client libraries parse it.
type Timestamp time.Time

const timestampLayout = "2006-01-02T15:04:05.000000-07:00"

func (t Timestamp) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(timestampLayout)+2)
	b = append(b, '"')
	b = time.Time(t).UTC().AppendFormat(b, timestampLayout)
	b = append(b, '"')
	// Go writes "Z"-less offsets as "+00:00" with this layout already.
	return b, nil
}

func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	*t = Timestamp(v)
	return nil
}

// TimePtr converts an optional time.
func TimePtr(t *time.Time) *Timestamp {
	if t == nil {
		return nil
	}
	v := Timestamp(*t)
	return &v
}

// Member is a guild member object.
type Member struct {
	User                       *model.User `json:"user,omitempty"`
	Nick                       *string     `json:"nick"`
	Avatar                     *string     `json:"avatar"`
	Banner                     *string     `json:"banner"`
	Roles                      []ID        `json:"roles"`
	JoinedAt                   Timestamp   `json:"joined_at"`
	PremiumSince               *Timestamp  `json:"premium_since"`
	Deaf                       bool        `json:"deaf"`
	Mute                       bool        `json:"mute"`
	Flags                      int         `json:"flags"`
	Pending                    bool        `json:"pending"`
	Permissions                string      `json:"permissions,omitempty"`
	CommunicationDisabledUntil *Timestamp  `json:"communication_disabled_until"`
	GuildID                    ID          `json:"guild_id,omitempty"`
}

// NewMember renders a member. user may be nil where Discord omits it
// (the member inside a MESSAGE_CREATE).
func NewMember(m *model.Member, user *model.User) *Member {
	roles := m.Roles
	if roles == nil {
		roles = []ID{}
	}
	out := &Member{User: user, Nick: m.Nick, Roles: roles, JoinedAt: Timestamp(m.JoinedAt),
		Deaf: m.Deaf, Mute: m.Mute, Flags: m.Flags, Pending: m.Pending}
	if t := m.CommunicationDisabledUntil; t != nil && t.After(time.Now()) {
		out.CommunicationDisabledUntil = TimePtr(t) // Discord shows no timeout once it ended
	}
	return out
}

// Emoji is the emoji of a reaction. Unicode emoji have a null id.
type Emoji struct {
	ID       ID     `json:"id"`
	Name     string `json:"name"`
	Animated bool   `json:"animated,omitempty"`
}

// EmojiFromKey renders a stored emoji key: unicode emoji as they are,
// custom ones ("name:id") with their ID.
func EmojiFromKey(key string) Emoji {
	if i := strings.LastIndexByte(key, ':'); i > 0 {
		e := Emoji{Name: key[:i]}
		_ = e.ID.UnmarshalJSON([]byte(key[i+1:]))
		return e
	}
	return Emoji{Name: key}
}

// ReactionCountDetails splits a reaction count into normal and super.
type ReactionCountDetails struct {
	Burst  int `json:"burst"`
	Normal int `json:"normal"`
}

// Reaction is one emoji's reactions on a message.
type Reaction struct {
	Count        int                  `json:"count"`
	CountDetails ReactionCountDetails `json:"count_details"`
	Me           bool                 `json:"me"`
	MeBurst      bool                 `json:"me_burst"`
	Emoji        Emoji                `json:"emoji"`
	BurstColors  []string             `json:"burst_colors"`
}

// MentionedUser is a user object with a partial member, as in a message's
// mentions array.
type MentionedUser struct {
	*model.User
	Member *Member `json:"member,omitempty"`
}

// Message is a message object.
type Message struct {
	ID               ID                      `json:"id"`
	Type             int                     `json:"type"`
	ChannelID        ID                      `json:"channel_id"`
	GuildID          ID                      `json:"guild_id,omitempty"`
	Author           *model.User             `json:"author"`
	Member           *Member                 `json:"member,omitempty"`
	Content          string                  `json:"content"`
	Timestamp        Timestamp               `json:"timestamp"`
	EditedTimestamp  *Timestamp              `json:"edited_timestamp"`
	TTS              bool                    `json:"tts"`
	MentionEveryone  bool                    `json:"mention_everyone"`
	Mentions         []MentionedUser         `json:"mentions"`
	MentionRoles     []ID                    `json:"mention_roles"`
	Attachments      []model.Attachment      `json:"attachments"`
	Embeds           []json.RawMessage       `json:"embeds"`
	Reactions        []Reaction              `json:"reactions,omitempty"`
	Nonce            json.RawMessage         `json:"nonce,omitempty"`
	Pinned           bool                    `json:"pinned"`
	Flags            int                     `json:"flags"`
	Components       []json.RawMessage       `json:"components"`
	MessageReference *model.MessageReference `json:"message_reference,omitempty"`
	// ReferencedMessage is a *Message for replies, JSON null (NullMessage)
	// for replies whose target is gone, and absent otherwise.
	ReferencedMessage any `json:"referenced_message,omitempty"`
}

// NullMessage marks a reply whose referenced message was deleted.
var NullMessage = json.RawMessage("null")

// Guild is a guild object.
type Guild struct {
	ID                          ID            `json:"id"`
	Name                        string        `json:"name"`
	Icon                        *string       `json:"icon"`
	IconHash                    *string       `json:"icon_hash,omitempty"`
	Splash                      *string       `json:"splash"`
	DiscoverySplash             *string       `json:"discovery_splash"`
	Owner                       bool          `json:"owner,omitempty"`
	OwnerID                     ID            `json:"owner_id"`
	Permissions                 string        `json:"permissions,omitempty"`
	Region                      *string       `json:"region,omitempty"`
	AFKChannelID                ID            `json:"afk_channel_id"`
	AFKTimeout                  int           `json:"afk_timeout"`
	WidgetEnabled               bool          `json:"widget_enabled"`
	WidgetChannelID             ID            `json:"widget_channel_id"`
	VerificationLevel           int           `json:"verification_level"`
	DefaultMessageNotifications int           `json:"default_message_notifications"`
	ExplicitContentFilter       int           `json:"explicit_content_filter"`
	Roles                       []*model.Role `json:"roles"`
	Emojis                      []any         `json:"emojis"`
	Features                    []string      `json:"features"`
	MFALevel                    int           `json:"mfa_level"`
	ApplicationID               ID            `json:"application_id"`
	SystemChannelID             ID            `json:"system_channel_id"`
	SystemChannelFlags          int           `json:"system_channel_flags"`
	RulesChannelID              ID            `json:"rules_channel_id"`
	MaxPresences                *int          `json:"max_presences"`
	MaxMembers                  int           `json:"max_members"`
	VanityURLCode               *string       `json:"vanity_url_code"`
	Description                 *string       `json:"description"`
	Banner                      *string       `json:"banner"`
	PremiumTier                 int           `json:"premium_tier"`
	PremiumSubscriptionCount    int           `json:"premium_subscription_count"`
	PreferredLocale             string        `json:"preferred_locale"`
	PublicUpdatesChannelID      ID            `json:"public_updates_channel_id"`
	MaxVideoChannelUsers        int           `json:"max_video_channel_users"`
	ApproximateMemberCount      int           `json:"approximate_member_count,omitempty"`
	ApproximatePresenceCount    int           `json:"approximate_presence_count,omitempty"`
	NSFWLevel                   int           `json:"nsfw_level"`
	Stickers                    []any         `json:"stickers"`
	PremiumProgressBarEnabled   bool          `json:"premium_progress_bar_enabled"`
	SafetyAlertsChannelID       ID            `json:"safety_alerts_channel_id"`
}

// NewGuild renders a guild with its roles sorted by position.
func NewGuild(g *model.Guild, roles []*model.Role) *Guild {
	return &Guild{
		ID: g.ID, Name: g.Name, Icon: g.Icon, OwnerID: g.OwnerID, AFKChannelID: g.AFKChannelID,
		AFKTimeout: g.AFKTimeout, VerificationLevel: g.VerificationLevel,
		DefaultMessageNotifications: g.DefaultMessageNotifications,
		ExplicitContentFilter:       g.ExplicitContentFilter, Roles: roles, Emojis: []any{},
		Features: []string{}, SystemChannelID: g.SystemChannelID, MaxMembers: 500000,
		Description: g.Description, PreferredLocale: g.PreferredLocale,
		MaxVideoChannelUsers: 25, Stickers: []any{},
	}
}

// PartialGuild is an entry of GET /users/@me/guilds.
type PartialGuild struct {
	ID                       ID       `json:"id"`
	Name                     string   `json:"name"`
	Icon                     *string  `json:"icon"`
	Banner                   *string  `json:"banner"`
	Owner                    bool     `json:"owner"`
	Permissions              string   `json:"permissions"`
	Features                 []string `json:"features"`
	ApproximateMemberCount   int      `json:"approximate_member_count,omitempty"`
	ApproximatePresenceCount int      `json:"approximate_presence_count,omitempty"`
}

// Channel is a channel object. DMs carry recipients instead of guild
// fields.
type Channel struct {
	ID                   ID                 `json:"id"`
	Type                 int                `json:"type"`
	GuildID              ID                 `json:"guild_id,omitempty"`
	Position             *int               `json:"position,omitempty"`
	PermissionOverwrites *[]model.Overwrite `json:"permission_overwrites,omitempty"` // guild channels only, [] when none
	Name                 *string            `json:"name,omitempty"`
	Topic                json.RawMessage    `json:"topic,omitempty"` // text channels: a string or null
	NSFW                 *bool              `json:"nsfw,omitempty"`
	LastMessageID        ID                 `json:"last_message_id"`
	Bitrate              *int               `json:"bitrate,omitempty"`
	UserLimit            *int               `json:"user_limit,omitempty"`
	RateLimitPerUser     *int               `json:"rate_limit_per_user,omitempty"`
	Recipients           []*model.User      `json:"recipients,omitempty"`
	ParentID             *ID                `json:"parent_id,omitempty"`
	LastPinTimestamp     *Timestamp         `json:"last_pin_timestamp,omitempty"`
	RTCRegion            *string            `json:"rtc_region,omitempty"`
	Flags                int                `json:"flags"`
}

// NewChannel renders a guild channel or, with recipients, a DM.
func NewChannel(c *model.Channel, recipients []*model.User) *Channel {
	out := &Channel{ID: c.ID, Type: c.Type, GuildID: c.GuildID, LastMessageID: c.LastMessageID,
		Flags: c.Flags, LastPinTimestamp: TimePtr(c.LastPinTimestamp)}
	if c.Type == model.ChannelDM || c.Type == model.ChannelGroupDM {
		out.Recipients = recipients
		if out.Recipients == nil {
			out.Recipients = []*model.User{}
		}
		return out
	}
	pos, name, nsfw, parent := c.Position, c.Name, c.NSFW, c.ParentID
	out.Position, out.Name, out.NSFW, out.ParentID = &pos, &name, &nsfw, &parent
	ows := c.PermissionOverwrites
	if ows == nil {
		ows = []model.Overwrite{}
	}
	out.PermissionOverwrites = &ows
	switch c.Type {
	case model.ChannelGuildText:
		rl := c.RateLimitPerUser
		out.Topic, out.RateLimitPerUser = []byte("null"), &rl
		if c.Topic != nil {
			out.Topic, _ = json.Marshal(*c.Topic)
		}
	case model.ChannelGuildVoice:
		br, ul := c.Bitrate, c.UserLimit
		out.Bitrate, out.UserLimit = &br, &ul
		rl := c.RateLimitPerUser
		out.RateLimitPerUser = &rl
	}
	return out
}

// Invite is an invite object.
type Invite struct {
	Type    int            `json:"type"`
	Code    string         `json:"code"`
	Guild   *InviteGuild   `json:"guild,omitempty"`
	Channel *InviteChannel `json:"channel"`
	Inviter *model.User    `json:"inviter,omitempty"`
	// The counts come only with with_counts=true, as on Discord.
	ApproximateMemberCount   *int       `json:"approximate_member_count,omitempty"`
	ApproximatePresenceCount *int       `json:"approximate_presence_count,omitempty"`
	ExpiresAt                *Timestamp `json:"expires_at"`
	// Invite metadata, returned to those who may manage invites.
	Uses      *int       `json:"uses,omitempty"`
	MaxUses   *int       `json:"max_uses,omitempty"`
	MaxAge    *int       `json:"max_age,omitempty"`
	Temporary *bool      `json:"temporary,omitempty"`
	CreatedAt *Timestamp `json:"created_at,omitempty"`
}

// InviteGuild is the partial guild inside an invite.
type InviteGuild struct {
	ID                ID       `json:"id"`
	Name              string   `json:"name"`
	Icon              *string  `json:"icon"`
	Splash            *string  `json:"splash"`
	Banner            *string  `json:"banner"`
	Description       *string  `json:"description"`
	Features          []string `json:"features"`
	VerificationLevel int      `json:"verification_level"`
	NSFWLevel         int      `json:"nsfw_level"`
}

// InviteChannel is the partial channel inside an invite.
type InviteChannel struct {
	ID   ID     `json:"id"`
	Name string `json:"name"`
	Type int    `json:"type"`
}

// Ban is a ban object.
type Ban struct {
	Reason *string     `json:"reason"`
	User   *model.User `json:"user"`
}

// Application is the application object of /oauth2/applications/@me.
type Application struct {
	ID                  ID          `json:"id"`
	Name                string      `json:"name"`
	Icon                *string     `json:"icon"`
	Description         string      `json:"description"`
	BotPublic           bool        `json:"bot_public"`
	BotRequireCodeGrant bool        `json:"bot_require_code_grant"`
	Owner               *model.User `json:"owner,omitempty"`
	VerifyKey           string      `json:"verify_key"`
	Flags               int         `json:"flags"`
	Bot                 *model.User `json:"bot,omitempty"`
	Team                any         `json:"team"`
	Summary             string      `json:"summary"`
}
