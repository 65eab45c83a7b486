package gateway

import (
	"encoding/json"

	"github.com/accord-chat/accord/core/snowflake"
)

type ID = snowflake.ID

// Opcodes.
const (
	OpDispatch            = 0
	OpHeartbeat           = 1
	OpIdentify            = 2
	OpPresenceUpdate      = 3
	OpVoiceStateUpdate    = 4
	OpResume              = 6
	OpReconnect           = 7
	OpRequestGuildMembers = 8
	OpInvalidSession      = 9
	OpHello               = 10
	OpHeartbeatACK        = 11
	OpRequestSoundboard   = 31
)

// Close codes, with Discord's meanings.
const (
	CloseUnknownError         = 4000
	CloseUnknownOpcode        = 4001
	CloseDecodeError          = 4002
	CloseNotAuthenticated     = 4003
	CloseAuthenticationFailed = 4004
	CloseAlreadyAuthenticated = 4005
	CloseInvalidSeq           = 4007
	CloseRateLimited          = 4008
	CloseSessionTimedOut      = 4009
	CloseInvalidShard         = 4010
	CloseShardingRequired     = 4011
	CloseInvalidAPIVersion    = 4012
	CloseInvalidIntents       = 4013
	CloseDisallowedIntents    = 4014
)

var closeText = map[int]string{
	CloseUnknownError:         "Unknown error.",
	CloseUnknownOpcode:        "Unknown opcode.",
	CloseDecodeError:          "Decode error.",
	CloseNotAuthenticated:     "Not authenticated.",
	CloseAuthenticationFailed: "Authentication failed.",
	CloseAlreadyAuthenticated: "Already authenticated.",
	CloseInvalidSeq:           "Invalid seq.",
	CloseRateLimited:          "Rate limited.",
	CloseSessionTimedOut:      "Session timed out.",
	CloseInvalidShard:         "Invalid shard.",
	CloseShardingRequired:     "Sharding required.",
	CloseInvalidAPIVersion:    "Invalid API version.",
	CloseInvalidIntents:       "Invalid intent(s).",
	CloseDisallowedIntents:    "Disallowed intent(s).",
}

// Gateway intents.
const (
	IntentGuilds                 = 1 << 0
	IntentGuildMembers           = 1 << 1 // privileged
	IntentGuildModeration        = 1 << 2
	IntentGuildExpressions       = 1 << 3
	IntentGuildIntegrations      = 1 << 4
	IntentGuildWebhooks          = 1 << 5
	IntentGuildInvites           = 1 << 6
	IntentGuildVoiceStates       = 1 << 7
	IntentGuildPresences         = 1 << 8 // privileged
	IntentGuildMessages          = 1 << 9
	IntentGuildMessageReactions  = 1 << 10
	IntentGuildMessageTyping     = 1 << 11
	IntentDirectMessages         = 1 << 12
	IntentDirectMessageReactions = 1 << 13
	IntentDirectMessageTyping    = 1 << 14
	IntentMessageContent         = 1 << 15 // privileged
	IntentGuildScheduledEvents   = 1 << 16
	IntentAutoModConfiguration   = 1 << 20
	IntentAutoModExecution       = 1 << 21
	IntentGuildMessagePolls      = 1 << 24
	IntentDirectMessagePolls     = 1 << 25

	allIntents = IntentGuilds | IntentGuildMembers | IntentGuildModeration | IntentGuildExpressions |
		IntentGuildIntegrations | IntentGuildWebhooks | IntentGuildInvites | IntentGuildVoiceStates |
		IntentGuildPresences | IntentGuildMessages | IntentGuildMessageReactions | IntentGuildMessageTyping |
		IntentDirectMessages | IntentDirectMessageReactions | IntentDirectMessageTyping | IntentMessageContent |
		IntentGuildScheduledEvents | IntentAutoModConfiguration | IntentAutoModExecution |
		IntentGuildMessagePolls | IntentDirectMessagePolls

	privilegedIntents = IntentGuildMembers | IntentGuildPresences | IntentMessageContent
)

// Application flags that enable privileged intents (the full and the
// "limited" variant of each).
const (
	AppFlagGatewayPresence              = 1 << 12
	AppFlagGatewayPresenceLimited       = 1 << 13
	AppFlagGatewayGuildMembers          = 1 << 14
	AppFlagGatewayGuildMembersLimited   = 1 << 15
	AppFlagGatewayMessageContent        = 1 << 18
	AppFlagGatewayMessageContentLimited = 1 << 19
)

// AllowedPrivileged returns the privileged intents an application's flags
// enable.
func AllowedPrivileged(appFlags int) int {
	out := 0
	if appFlags&(AppFlagGatewayPresence|AppFlagGatewayPresenceLimited) != 0 {
		out |= IntentGuildPresences
	}
	if appFlags&(AppFlagGatewayGuildMembers|AppFlagGatewayGuildMembersLimited) != 0 {
		out |= IntentGuildMembers
	}
	if appFlags&(AppFlagGatewayMessageContent|AppFlagGatewayMessageContentLimited) != 0 {
		out |= IntentMessageContent
	}
	return out
}

// payload is a received gateway payload.
type payload struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
	S  *int64          `json:"s"`
	T  *string         `json:"t"`
}

type identify struct {
	Token          string          `json:"token"`
	Properties     json.RawMessage `json:"properties"`
	Compress       bool            `json:"compress"`
	LargeThreshold int             `json:"large_threshold"`
	Shard          *[2]int         `json:"shard"`
	Presence       *presenceUpdate `json:"presence"`
	Intents        *int            `json:"intents"`
}

type resume struct {
	Token     string `json:"token"`
	SessionID string `json:"session_id"`
	Seq       int64  `json:"seq"`
}

type presenceUpdate struct {
	Since      *int64            `json:"since"`
	Activities []json.RawMessage `json:"activities"`
	Status     string            `json:"status"`
	AFK        bool              `json:"afk"`
}

type requestMembers struct {
	GuildID   ID              `json:"guild_id"`
	Query     *string         `json:"query"`
	Limit     *int            `json:"limit"`
	Presences bool            `json:"presences"`
	UserIDs   json.RawMessage `json:"user_ids"`
	Nonce     string          `json:"nonce"`
}

type voiceStateUpdate struct {
	GuildID   ID   `json:"guild_id"`
	ChannelID ID   `json:"channel_id"`
	SelfMute  bool `json:"self_mute"`
	SelfDeaf  bool `json:"self_deaf"`
}
