package engine

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

// The log entry format.
//
// An entry is two bytes, entryMagic and the format version, then a JSON
// object (logEntry) whose fields are all typed: ops are store.Op values,
// and each event's payload names its Go type (wireEvent.DataType, from
// payloadTypes). Entries are read back by every replica and, after an
// upgrade, by newer binaries, so:
//
//   - a change that older binaries would misread bumps entryVersion, and
//     decodeEntry refuses versions newer than its own with
//     ErrNewerEntry (the shard halts, see raftstore.StateMachine: a
//     binary that cannot apply an entry must stop, not skip it);
//   - every version this binary ever wrote keeps decoding: testdata/entries
//     holds real entries of each version (golden_test.go), and version 0,
//     the unversioned JSON of the first releases, is still read;
//   - an unknown entry kind or payload type is an error, never ignored.
//
// JSON rather than a binary encoding: the model types round-trip through
// it exactly (empty lists stay empty, which gob turns into nil), the
// embedded store already uses it, and an entry can be read by eye in a
// debugger; the cost is in encodeEntry and decodeEntry, which the
// benchmarks measure.

const (
	// entryMagic starts every versioned entry. Version 0 entries are bare
	// JSON objects and start with '{'.
	entryMagic byte = 0xAC
	// entryVersion is the format this binary writes.
	entryVersion byte = 1
)

// Errors of decodeEntry that a caller may tell apart.
var (
	// ErrNewerEntry: the entry was written by a newer binary.
	ErrNewerEntry = errors.New("log entry of a newer format than this binary reads")
	// ErrBadEntry: the entry is not one this binary could have written.
	ErrBadEntry = errors.New("malformed log entry")
)

// entryKind says what a replicated log entry carries.
type entryKind uint8

const (
	// entryPlan is a command's outcome: ops to apply and events to
	// publish. The leader evaluated the command; replicas only apply.
	entryPlan entryKind = iota + 1
	// entryWatermark records that the shard leader persisted every entry
	// up to Watermark to the shared core store.
	entryWatermark
	// entrySessions carries gateway session resume state.
	entrySessions
	// entryPresence carries presence changes and node heartbeats.
	entryPresence
	// entryVoice carries voice state changes of a guild.
	entryVoice
	// lastKind is the highest kind this binary knows.
	lastKind = entryVoice
)

// logEntry is what one Raft log entry holds.
type logEntry struct {
	Kind      entryKind        `json:"k"`
	Ops       []store.Op       `json:"ops,omitempty"`
	Events    []wireEvent      `json:"ev,omitempty"`
	Watermark uint64           `json:"wm,omitempty"`
	Sessions  *SessionUpdate   `json:"sess,omitempty"`
	Presence  []PresenceChange `json:"pres,omitempty"`
	Alive     string           `json:"alive,omitempty"` // a node's heartbeat
	// Endpoint is the voice endpoint of the Alive node. Older binaries
	// ignore it (they send no client to another node's voice server).
	Endpoint string        `json:"endpoint,omitempty"`
	Gone     string        `json:"gone,omitempty"` // a node declared dead
	Voice    []VoiceChange `json:"voice,omitempty"`
	// At is the proposer's clock, for state that records time: every
	// replica must record the same.
	At int64 `json:"at,omitempty"`

	// decoded holds Events with typed payloads, set by decodeEntry.
	decoded []Event
}

// wireEvent is an Event with its payload's type named, because Event.Data
// is an interface.
type wireEvent struct {
	Type      string          `json:"t"`
	GuildID   ID              `json:"g,omitempty"`
	ChannelID ID              `json:"c,omitempty"`
	UserIDs   []ID            `json:"u,omitempty"`
	DataType  string          `json:"dt,omitempty"`
	Data      json.RawMessage `json:"d,omitempty"`
}

// payloadTypes maps each payload type's name in an entry to a constructor
// of its Go type. A name is never reused for another type.
var payloadTypes = map[string]func() any{
	"channel":          func() any { return &model.Channel{} },
	"message":          func() any { return &model.Message{} },
	"role":             func() any { return &model.Role{} },
	"member":           func() any { return &model.Member{} },
	"ban":              func() any { return &model.Ban{} },
	"invite":           func() any { return &model.Invite{} },
	"guild":            func() any { return &model.Guild{} },
	"user":             func() any { return &model.User{} },
	"message_event":    func() any { return &MessageEvent{} },
	"reaction":         func() any { return &ReactionEvent{} },
	"guild_deleted":    func() any { return &GuildDeleted{} },
	"member_removed":   func() any { return &MemberRemoved{} },
	"message_deleted":  func() any { return &MessageDeleted{} },
	"messages_deleted": func() any { return &MessagesDeleted{} },
	"pins_updated":     func() any { return &PinsUpdated{} },
	"typing":           func() any { return &Typing{} },
	"role_deleted":     func() any { return &RoleDeleted{} },
	"token_revoked":    func() any { return &TokenRevoked{} },
}

// payloadName is the name of a payload's type in an entry, "" for a type
// that cannot be replicated.
func payloadName(d any) string {
	switch d.(type) {
	case *model.Channel:
		return "channel"
	case *model.Message:
		return "message"
	case *model.Role:
		return "role"
	case *model.Member:
		return "member"
	case *model.Ban:
		return "ban"
	case *model.Invite:
		return "invite"
	case *model.Guild:
		return "guild"
	case *model.User:
		return "user"
	case *MessageEvent:
		return "message_event"
	case *ReactionEvent:
		return "reaction"
	case *GuildDeleted:
		return "guild_deleted"
	case *MemberRemoved:
		return "member_removed"
	case *MessageDeleted:
		return "message_deleted"
	case *MessagesDeleted:
		return "messages_deleted"
	case *PinsUpdated:
		return "pins_updated"
	case *Typing:
		return "typing"
	case *RoleDeleted:
		return "role_deleted"
	case *TokenRevoked:
		return "token_revoked"
	}
	return ""
}

// legacyPayloads are the payloads version 0 carried as untyped maps, by
// event type; their JSON is the typed struct's.
var legacyPayloads = map[string]string{
	"GUILD_DELETE":        "guild_deleted",
	"GUILD_MEMBER_REMOVE": "member_removed",
	"MESSAGE_DELETE":      "message_deleted",
	"MESSAGE_DELETE_BULK": "messages_deleted",
	"CHANNEL_PINS_UPDATE": "pins_updated",
	"TYPING_START":        "typing",
	"GUILD_ROLE_DELETE":   "role_deleted",
}

func newPlanEntry(p *plan) (*logEntry, error) {
	le := &logEntry{Kind: entryPlan, Ops: p.batch.Ops}
	for _, ev := range p.events {
		we := wireEvent{Type: ev.Type, GuildID: ev.GuildID, ChannelID: ev.ChannelID, UserIDs: ev.UserIDs}
		if ev.Data != nil {
			we.DataType = payloadName(ev.Data)
			if we.DataType == "" {
				return nil, fmt.Errorf("event %s: payload type %T cannot be replicated", ev.Type, ev.Data)
			}
			b, err := json.Marshal(ev.Data)
			if err != nil {
				return nil, fmt.Errorf("event %s: %w", ev.Type, err)
			}
			we.Data = b
		}
		le.Events = append(le.Events, we)
	}
	return le, nil
}

// events rebuilds the entry's events with their typed payloads.
func (le *logEntry) events() ([]Event, error) {
	out := make([]Event, 0, len(le.Events))
	for _, we := range le.Events {
		ev := Event{Type: we.Type, GuildID: we.GuildID, ChannelID: we.ChannelID, UserIDs: we.UserIDs}
		if we.DataType != "" {
			mk, ok := payloadTypes[we.DataType]
			if !ok {
				return nil, fmt.Errorf("%w: event %s: unknown payload type %q", ErrBadEntry, we.Type, we.DataType)
			}
			v := mk()
			if err := json.Unmarshal(we.Data, v); err != nil {
				return nil, fmt.Errorf("%w: event %s: %v", ErrBadEntry, we.Type, err)
			}
			ev.Data = v
		}
		out = append(out, ev)
	}
	return out, nil
}

func encodeEntry(e *logEntry) ([]byte, error) {
	b := make([]byte, 2, 256)
	b[0], b[1] = entryMagic, entryVersion
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode log entry: %w", err)
	}
	return append(b, body...), nil
}

// decodeEntry reads an entry of any version this binary knows, and checks
// that it is whole: a known kind, payloads of known types. It never
// panics, whatever data is.
func decodeEntry(data []byte) (*logEntry, error) {
	var body []byte
	version := -1
	switch {
	case len(data) > 0 && data[0] == '{':
		version, body = 0, data
	case len(data) >= 2 && data[0] == entryMagic:
		version, body = int(data[1]), data[2:]
		if data[1] > entryVersion {
			return nil, fmt.Errorf("%w: version %d, this binary reads up to %d", ErrNewerEntry, data[1], entryVersion)
		}
		if version == 0 {
			return nil, fmt.Errorf("%w: version 0 is never framed", ErrBadEntry)
		}
	default:
		return nil, fmt.Errorf("%w: no format header", ErrBadEntry)
	}
	var e logEntry
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEntry, err)
	}
	if e.Kind < entryPlan || e.Kind > lastKind {
		return nil, fmt.Errorf("%w: unknown kind %d", ErrBadEntry, e.Kind)
	}
	for i := range e.Ops {
		if err := e.Ops[i].Validate(); err != nil {
			return nil, fmt.Errorf("%w: op %d: %v", ErrBadEntry, i, err)
		}
	}
	for _, c := range e.Voice {
		if c.GuildID == 0 || c.UserID == 0 {
			return nil, fmt.Errorf("%w: voice change without guild or user", ErrBadEntry)
		}
	}
	for _, c := range e.Presence {
		if c.UserID == 0 || c.Node == "" {
			return nil, fmt.Errorf("%w: presence change without user or node", ErrBadEntry)
		}
	}
	if version == 0 {
		for i := range e.Events {
			if e.Events[i].DataType == "map" {
				name, ok := legacyPayloads[e.Events[i].Type]
				if !ok {
					return nil, fmt.Errorf("%w: version 0 event %s: untyped payload", ErrBadEntry, e.Events[i].Type)
				}
				e.Events[i].DataType = name
			}
		}
	}
	// Payloads are decoded here, not only when the events are published,
	// so that a bad one stops the shard before anything of the entry is
	// applied.
	evs, err := e.events()
	if err != nil {
		return nil, err
	}
	e.decoded = evs
	return &e, nil
}
