package perm

import (
	"errors"
	"math/bits"
	"strconv"
	"strings"
)

// Permissions is a permission bit set. It exists for its String method; the
// computation functions take and return plain uint64 so that model fields
// need no conversion.
type Permissions uint64

// The permission bits, named after Discord's SCREAMING_CASE names. The
// constants are untyped so they mix with uint64 and Permissions without
// conversions.
//
// Bit 47 is deliberately absent: Discord briefly used it (USE_CLYDE_AI) and
// removed it from the documented table, so it is not part of All and Mask
// drops it.
const (
	CreateInstantInvite              = 1 << 0  // CREATE_INSTANT_INVITE
	KickMembers                      = 1 << 1  // KICK_MEMBERS
	BanMembers                       = 1 << 2  // BAN_MEMBERS
	Administrator                    = 1 << 3  // ADMINISTRATOR
	ManageChannels                   = 1 << 4  // MANAGE_CHANNELS
	ManageGuild                      = 1 << 5  // MANAGE_GUILD
	AddReactions                     = 1 << 6  // ADD_REACTIONS
	ViewAuditLog                     = 1 << 7  // VIEW_AUDIT_LOG
	PrioritySpeaker                  = 1 << 8  // PRIORITY_SPEAKER
	Stream                           = 1 << 9  // STREAM
	ViewChannel                      = 1 << 10 // VIEW_CHANNEL
	SendMessages                     = 1 << 11 // SEND_MESSAGES (not in threads)
	SendTTSMessages                  = 1 << 12 // SEND_TTS_MESSAGES
	ManageMessages                   = 1 << 13 // MANAGE_MESSAGES (no longer grants pinning)
	EmbedLinks                       = 1 << 14 // EMBED_LINKS
	AttachFiles                      = 1 << 15 // ATTACH_FILES
	ReadMessageHistory               = 1 << 16 // READ_MESSAGE_HISTORY
	MentionEveryone                  = 1 << 17 // MENTION_EVERYONE (@everyone and @here)
	UseExternalEmojis                = 1 << 18 // USE_EXTERNAL_EMOJIS
	ViewGuildInsights                = 1 << 19 // VIEW_GUILD_INSIGHTS
	Connect                          = 1 << 20 // CONNECT
	Speak                            = 1 << 21 // SPEAK
	MuteMembers                      = 1 << 22 // MUTE_MEMBERS
	DeafenMembers                    = 1 << 23 // DEAFEN_MEMBERS
	MoveMembers                      = 1 << 24 // MOVE_MEMBERS
	UseVAD                           = 1 << 25 // USE_VAD
	ChangeNickname                   = 1 << 26 // CHANGE_NICKNAME
	ManageNicknames                  = 1 << 27 // MANAGE_NICKNAMES
	ManageRoles                      = 1 << 28 // MANAGE_ROLES ("Manage Permissions" on a channel)
	ManageWebhooks                   = 1 << 29 // MANAGE_WEBHOOKS
	ManageGuildExpressions           = 1 << 30 // MANAGE_GUILD_EXPRESSIONS
	UseApplicationCommands           = 1 << 31 // USE_APPLICATION_COMMANDS
	RequestToSpeak                   = 1 << 32 // REQUEST_TO_SPEAK
	ManageEvents                     = 1 << 33 // MANAGE_EVENTS
	ManageThreads                    = 1 << 34 // MANAGE_THREADS
	CreatePublicThreads              = 1 << 35 // CREATE_PUBLIC_THREADS
	CreatePrivateThreads             = 1 << 36 // CREATE_PRIVATE_THREADS
	UseExternalStickers              = 1 << 37 // USE_EXTERNAL_STICKERS
	SendMessagesInThreads            = 1 << 38 // SEND_MESSAGES_IN_THREADS
	UseEmbeddedActivities            = 1 << 39 // USE_EMBEDDED_ACTIVITIES
	ModerateMembers                  = 1 << 40 // MODERATE_MEMBERS ("Timeout Members")
	ViewCreatorMonetizationAnalytics = 1 << 41 // VIEW_CREATOR_MONETIZATION_ANALYTICS
	UseSoundboard                    = 1 << 42 // USE_SOUNDBOARD
	CreateGuildExpressions           = 1 << 43 // CREATE_GUILD_EXPRESSIONS
	CreateEvents                     = 1 << 44 // CREATE_EVENTS
	UseExternalSounds                = 1 << 45 // USE_EXTERNAL_SOUNDS
	SendVoiceMessages                = 1 << 46 // SEND_VOICE_MESSAGES
	SetVoiceChannelStatus            = 1 << 48 // SET_VOICE_CHANNEL_STATUS
	SendPolls                        = 1 << 49 // SEND_POLLS
	UseExternalApps                  = 1 << 50 // USE_EXTERNAL_APPS
	PinMessages                      = 1 << 51 // PIN_MESSAGES (split from MANAGE_MESSAGES)
	BypassSlowmode                   = 1 << 52 // BYPASS_SLOWMODE
)

// All is every documented bit: what the owner and administrators hold.
const All = CreateInstantInvite | KickMembers | BanMembers | Administrator |
	ManageChannels | ManageGuild | AddReactions | ViewAuditLog |
	PrioritySpeaker | Stream | ViewChannel | SendMessages | SendTTSMessages |
	ManageMessages | EmbedLinks | AttachFiles | ReadMessageHistory |
	MentionEveryone | UseExternalEmojis | ViewGuildInsights | Connect | Speak |
	MuteMembers | DeafenMembers | MoveMembers | UseVAD | ChangeNickname |
	ManageNicknames | ManageRoles | ManageWebhooks | ManageGuildExpressions |
	UseApplicationCommands | RequestToSpeak | ManageEvents | ManageThreads |
	CreatePublicThreads | CreatePrivateThreads | UseExternalStickers |
	SendMessagesInThreads | UseEmbeddedActivities | ModerateMembers |
	ViewCreatorMonetizationAnalytics | UseSoundboard | CreateGuildExpressions |
	CreateEvents | UseExternalSounds | SendVoiceMessages |
	SetVoiceChannelStatus | SendPolls | UseExternalApps | PinMessages |
	BypassSlowmode

// DefaultEveryone is what the @everyone role of a new guild holds.
//
// Discord does not document this value. Guilds created in 2021–2023 show
// "1071698660929" on @everyone (widely observed in API dumps): invites,
// nickname, view/send/read history, threads, embeds, files, reactions,
// external emoji and stickers, @everyone mentions, voice (connect, speak,
// video, VAD), request to speak, slash commands and activities. Discord
// enables member-facing permissions it adds later on @everyone (the change
// log says so for USE_EXTERNAL_APPS: "enabled for servers by default"), so
// the later member-facing bits are added: soundboard and external sounds,
// voice messages, polls, external apps, and the create-only halves of the
// expression and event splits (CREATE_GUILD_EXPRESSIONS, CREATE_EVENTS).
// SEND_TTS_MESSAGES stays off, as in the observed value. Moderation bits
// (PIN_MESSAGES, BYPASS_SLOWMODE, SET_VOICE_CHANNEL_STATUS and every MANAGE_*)
// stay off because a fresh guild should not hand them to strangers.
//
// The value is 1826261000769089.
const DefaultEveryone = CreateInstantInvite | AddReactions | Stream |
	ViewChannel | SendMessages | EmbedLinks | AttachFiles | ReadMessageHistory |
	MentionEveryone | UseExternalEmojis | Connect | Speak | UseVAD |
	ChangeNickname | UseApplicationCommands | RequestToSpeak |
	CreatePublicThreads | CreatePrivateThreads | UseExternalStickers |
	SendMessagesInThreads | UseEmbeddedActivities | UseSoundboard |
	CreateGuildExpressions | CreateEvents | UseExternalSounds |
	SendVoiceMessages | SendPolls | UseExternalApps

// RequiresMFA is the set Discord marks with "*": holding any of these in a
// guild with server-wide 2FA requires the account to have 2FA enabled.
const RequiresMFA = KickMembers | BanMembers | Administrator | ManageChannels |
	ManageGuild | ManageMessages | ManageRoles | ManageWebhooks |
	ManageGuildExpressions | ManageThreads | ViewCreatorMonetizationAnalytics

// names is indexed by bit number; an empty entry is an undefined bit.
var names = [64]string{
	0: "CREATE_INSTANT_INVITE", 1: "KICK_MEMBERS", 2: "BAN_MEMBERS",
	3: "ADMINISTRATOR", 4: "MANAGE_CHANNELS", 5: "MANAGE_GUILD",
	6: "ADD_REACTIONS", 7: "VIEW_AUDIT_LOG", 8: "PRIORITY_SPEAKER",
	9: "STREAM", 10: "VIEW_CHANNEL", 11: "SEND_MESSAGES",
	12: "SEND_TTS_MESSAGES", 13: "MANAGE_MESSAGES", 14: "EMBED_LINKS",
	15: "ATTACH_FILES", 16: "READ_MESSAGE_HISTORY", 17: "MENTION_EVERYONE",
	18: "USE_EXTERNAL_EMOJIS", 19: "VIEW_GUILD_INSIGHTS", 20: "CONNECT",
	21: "SPEAK", 22: "MUTE_MEMBERS", 23: "DEAFEN_MEMBERS",
	24: "MOVE_MEMBERS", 25: "USE_VAD", 26: "CHANGE_NICKNAME",
	27: "MANAGE_NICKNAMES", 28: "MANAGE_ROLES", 29: "MANAGE_WEBHOOKS",
	30: "MANAGE_GUILD_EXPRESSIONS", 31: "USE_APPLICATION_COMMANDS",
	32: "REQUEST_TO_SPEAK", 33: "MANAGE_EVENTS", 34: "MANAGE_THREADS",
	35: "CREATE_PUBLIC_THREADS", 36: "CREATE_PRIVATE_THREADS",
	37: "USE_EXTERNAL_STICKERS", 38: "SEND_MESSAGES_IN_THREADS",
	39: "USE_EMBEDDED_ACTIVITIES", 40: "MODERATE_MEMBERS",
	41: "VIEW_CREATOR_MONETIZATION_ANALYTICS", 42: "USE_SOUNDBOARD",
	43: "CREATE_GUILD_EXPRESSIONS", 44: "CREATE_EVENTS",
	45: "USE_EXTERNAL_SOUNDS", 46: "SEND_VOICE_MESSAGES",
	48: "SET_VOICE_CHANNEL_STATUS", 49: "SEND_POLLS", 50: "USE_EXTERNAL_APPS",
	51: "PIN_MESSAGES", 52: "BYPASS_SLOWMODE",
}

// Has reports whether p holds every bit in want. With a multi-bit want it is
// an "all of" test, which is what endpoint checks need (e.g. VIEW_CHANNEL and
// SEND_MESSAGES together).
func Has(p, want uint64) bool { return p&want == want }

// Mask drops bits Discord does not define. Stored role permissions and
// overwrites should be masked on write so unknown bits sent by a client never
// become meaningful if Discord later assigns them.
func Mask(p uint64) uint64 { return p & All }

// Name returns Discord's name for a single bit, or "" if bit is not exactly
// one defined permission.
func Name(bit uint64) string {
	if bits.OnesCount64(bit) != 1 {
		return ""
	}
	return names[bits.TrailingZeros64(bit)]
}

// Names lists Discord's names for the defined bits in p, lowest bit first.
// Undefined bits are left out; String shows them.
func Names(p uint64) []string {
	p &= All
	out := make([]string, 0, bits.OnesCount64(p))
	for ; p != 0; p &= p - 1 {
		out = append(out, names[bits.TrailingZeros64(p)])
	}
	return out
}

// String renders p as NAME|NAME for logs and audit entries. Undefined bits
// are shown as a hex remainder so nothing is silently hidden.
func (p Permissions) String() string {
	if p == 0 {
		return "0"
	}
	s := strings.Join(Names(uint64(p)), "|")
	if rest := uint64(p) &^ All; rest != 0 {
		if s != "" {
			s += "|"
		}
		s += "0x" + strconv.FormatUint(rest, 16)
	}
	return s
}

// Format renders p in the decimal-string wire form Discord uses.
func Format(p uint64) string { return strconv.FormatUint(p, 10) }

// Errors returned by Parse.
var (
	ErrSyntax = errors.New("perm: permissions must be a string of decimal digits")
	ErrRange  = errors.New("perm: permissions value overflows 64 bits")
)

// Parse reads the decimal-string form clients send ("2112"). Only ASCII
// digits are accepted — no sign, spaces, hex or digit separators — because
// Discord serializes permissions that way and anything else is a malformed
// request, not a value to guess at. Undefined bits are returned as sent;
// callers Mask them.
func Parse(s string) (uint64, error) {
	if s == "" {
		return 0, ErrSyntax
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, ErrSyntax
		}
		d := uint64(c - '0')
		if v > (^uint64(0)-d)/10 {
			// Keep scanning so a non-digit later still reports ErrSyntax:
			// the request is malformed before it is too large.
			for i++; i < len(s); i++ {
				if s[i] < '0' || s[i] > '9' {
					return 0, ErrSyntax
				}
			}
			return 0, ErrRange
		}
		v = v*10 + d
	}
	return v, nil
}
