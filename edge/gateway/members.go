package gateway

import (
	"encoding/json"
	"strings"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/edge/discord"
)

// chunkSize is Discord's GUILD_MEMBERS_CHUNK size.
const chunkSize = 1000

// requestMembers serves op 8: members by username prefix or by ID, sent
// as GUILD_MEMBERS_CHUNK events of at most 1000.
func (s *Server) requestMembers(c *conn, sess *session, rm requestMembers) bool {
	var ids []ID
	if len(rm.UserIDs) > 0 && string(rm.UserIDs) != "null" {
		var one snowflake.ID
		if err := json.Unmarshal(rm.UserIDs, &one); err == nil {
			ids = []ID{one}
		} else if err := json.Unmarshal(rm.UserIDs, &ids); err != nil || len(ids) > 100 {
			s.closeWith(c, CloseDecodeError)
			return false
		}
	}
	query := ""
	if rm.Query != nil {
		query = strings.ToLower(*rm.Query)
	}
	limit := 0
	if rm.Limit != nil {
		limit = *rm.Limit
	}
	if (rm.Query == nil) == (ids == nil) || limit < 0 {
		s.closeWith(c, CloseDecodeError)
		return false
	}
	// Discord: "If you send an invalid nonce it will be ignored and the
	// reply member_chunk(s) will not have a nonce set."
	if len(rm.Nonce) > 32 {
		rm.Nonce = ""
	}
	// The whole member list needs GUILD_MEMBERS.
	if ids == nil && query == "" && !sess.has(IntentGuildMembers) {
		s.closeWith(c, CloseDisallowedIntents)
		return false
	}
	// Discord: without GUILD_PRESENCES, presences "will always be false";
	// the request is served, not refused.
	if !sess.has(IntentGuildPresences) {
		rm.Presences = false
	}
	if ids == nil && query != "" && (limit == 0 || limit > 100) {
		limit = 100
	}
	var members []*model.Member
	var notFound []ID
	err := s.eng.ViewAsMember(rm.GuildID, sess.user.ID, func(st *engine.State) error {
		if ids != nil {
			for _, id := range ids {
				if m := st.Members[id]; m != nil {
					members = append(members, m)
				} else {
					notFound = append(notFound, id)
				}
			}
			return nil
		}
		for _, uid := range st.SortedMemberIDs() {
			if limit > 0 && len(members) >= limit {
				break
			}
			if query != "" {
				u := s.eng.User(uid)
				m := st.Members[uid]
				if u == nil || !(strings.HasPrefix(strings.ToLower(u.Username), query) ||
					(m.Nick != nil && strings.HasPrefix(strings.ToLower(*m.Nick), query))) {
					continue
				}
			}
			members = append(members, st.Members[uid])
		}
		return nil
	})
	if err != nil {
		return true // not a member: nothing to send, as Discord does
	}
	count := (len(members) + chunkSize - 1) / chunkSize
	if count == 0 {
		count = 1
	}
	for i := 0; i < count; i++ {
		lo, hi := i*chunkSize, min((i+1)*chunkSize, len(members))
		chunk := make([]*discord.Member, 0, hi-lo)
		var presences []map[string]any
		for _, m := range members[lo:hi] {
			chunk = append(chunk, discord.NewMember(m, s.userOrDeleted(m.UserID)))
			if rm.Presences {
				presences = append(presences, s.presenceObject(m.UserID, 0))
			}
		}
		d := map[string]any{"guild_id": rm.GuildID, "members": chunk, "chunk_index": i, "chunk_count": count}
		if i == 0 && ids != nil {
			if notFound == nil {
				notFound = []ID{}
			}
			d["not_found"] = notFound
		}
		if rm.Presences {
			if presences == nil {
				presences = []map[string]any{}
			}
			d["presences"] = presences
		}
		if rm.Nonce != "" {
			d["nonce"] = rm.Nonce
		}
		sess.dispatch(s.share("GUILD_MEMBERS_CHUNK", d))
	}
	return true
}
