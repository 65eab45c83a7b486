package engine

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
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
)

// logEntry is what one Raft log entry holds. It is JSON, like the
// embedded store's records: the model types round-trip through it
// exactly (empty lists stay empty, which gob would turn into nil).
type logEntry struct {
	Kind      entryKind        `json:"k"`
	Ops       []store.Op       `json:"ops,omitempty"`
	Events    []wireEvent      `json:"ev,omitempty"`
	Watermark uint64           `json:"wm,omitempty"`
	Sessions  *SessionUpdate   `json:"sess,omitempty"`
	Presence  []PresenceChange `json:"pres,omitempty"`
	Alive     string           `json:"alive,omitempty"` // a node's heartbeat
	Gone      string           `json:"gone,omitempty"`  // a node declared dead
	Voice     []VoiceChange    `json:"voice,omitempty"`
	// At is the proposer's clock, for state that records time: every
	// replica must record the same.
	At int64 `json:"at,omitempty"`
}

// wireEvent is an Event with its payload's type spelled out, because
// Event.Data is an interface.
type wireEvent struct {
	Type      string          `json:"t"`
	GuildID   ID              `json:"g,omitempty"`
	ChannelID ID              `json:"c,omitempty"`
	UserIDs   []ID            `json:"u,omitempty"`
	DataType  string          `json:"dt,omitempty"`
	Data      json.RawMessage `json:"d,omitempty"`
}

func newPlanEntry(p *plan) (*logEntry, error) {
	le := &logEntry{Kind: entryPlan, Ops: p.batch.Ops}
	for _, ev := range p.events {
		we := wireEvent{Type: ev.Type, GuildID: ev.GuildID, ChannelID: ev.ChannelID, UserIDs: ev.UserIDs}
		if ev.Data != nil {
			we.DataType = dataType(ev.Data)
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

func dataType(d any) string {
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
	case map[string]any:
		return "map"
	}
	return ""
}

// events rebuilds the entry's events with typed payloads.
func (le *logEntry) events() ([]Event, error) {
	out := make([]Event, 0, len(le.Events))
	for _, we := range le.Events {
		ev := Event{Type: we.Type, GuildID: we.GuildID, ChannelID: we.ChannelID, UserIDs: we.UserIDs}
		if we.DataType != "" {
			var v any
			switch we.DataType {
			case "channel":
				v = &model.Channel{}
			case "message":
				v = &model.Message{}
			case "role":
				v = &model.Role{}
			case "member":
				v = &model.Member{}
			case "ban":
				v = &model.Ban{}
			case "invite":
				v = &model.Invite{}
			case "guild":
				v = &model.Guild{}
			case "user":
				v = &model.User{}
			case "message_event":
				v = &MessageEvent{}
			case "reaction":
				v = &ReactionEvent{}
			case "map":
				m := map[string]any{}
				if err := json.Unmarshal(we.Data, &m); err != nil {
					return nil, fmt.Errorf("event %s: %w", we.Type, err)
				}
				retypeIDs(m)
				ev.Data = m
				out = append(out, ev)
				continue
			default:
				return nil, fmt.Errorf("event %s: unknown payload type %q", we.Type, we.DataType)
			}
			if err := json.Unmarshal(we.Data, v); err != nil {
				return nil, fmt.Errorf("event %s: %w", we.Type, err)
			}
			ev.Data = v
		}
		out = append(out, ev)
	}
	return out, nil
}

func encodeEntry(e *logEntry) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode log entry: %w", err)
	}
	return b, nil
}

func decodeEntry(data []byte) (*logEntry, error) {
	var e logEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("decode log entry: %w", err)
	}
	return &e, nil
}

// retypeIDs gives the snowflakes of a decoded map payload their type
// back: JSON carried them as strings, and readers of the map (the gateway
// looks up "user_id") expect IDs. They encode to the same JSON either way.
func retypeIDs(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case string:
			if k == "id" || strings.HasSuffix(k, "_id") {
				if id, err := snowflake.Parse(v); err == nil {
					m[k] = id
				}
			}
		case []any:
			if k == "ids" {
				ids := make([]ID, 0, len(v))
				for _, x := range v {
					s, _ := x.(string)
					id, err := snowflake.Parse(s)
					if err != nil {
						return
					}
					ids = append(ids, id)
				}
				m[k] = ids
			}
		case float64:
			if v == float64(int64(v)) {
				m[k] = int64(v)
			}
		}
	}
}
