package rest

import (
	"io"
	"net/http"
	"strings"
)

func (s *Server) routes() {
	// Accounts and applications.
	s.handle("POST", "/auth/register", public, s.register)
	s.handle("POST", "/auth/login", public, s.login)
	s.handle("POST", "/auth/logout", 0, s.logout)
	s.handle("POST", "/applications", 0, s.createApplication)
	s.handle("POST", "/bots", public|operator, s.createBot)
	s.handle("GET", "/applications/{application_id}", 0, s.getApplication)
	s.handle("POST", "/applications/{application_id}/bot/reset", 0, s.resetBot)
	s.handle("GET", "/oauth2/applications/@me", 0, s.currentApplication)
	s.handle("GET", "/applications/@me", 0, s.currentApplication)
	s.handle("PATCH", "/applications/@me", 0, s.modifyCurrentApplication)
	s.handle("PATCH", "/applications/{application_id}", 0, s.modifyApplication)
	s.handle("POST", "/oauth2/authorize", 0, s.authorize)
	s.handle("GET", "/gateway", public, s.gateway)
	s.handle("GET", "/gateway/bot", 0, s.gatewayBot)

	// Users.
	s.handle("GET", "/users/{user_id}", 0, s.getUser)
	s.handle("PATCH", "/users/@me", 0, s.modifyMe)
	s.handle("GET", "/users/@me/guilds", 0, s.myGuilds)
	s.handle("GET", "/users/@me/guilds/{guild_id}/member", 0, s.myMember)
	s.handle("DELETE", "/users/@me/guilds/{guild_id}", 0, s.leaveGuild)
	s.handle("GET", "/users/@me/channels", 0, s.myDMs)
	s.handle("POST", "/users/@me/channels", 0, s.openDM)

	// Guilds.
	s.handle("POST", "/guilds", 0, s.createGuild)
	s.handle("GET", "/guilds/{guild_id}", 0, s.getGuild)
	s.handle("PATCH", "/guilds/{guild_id}", 0, s.modifyGuild)
	s.handle("DELETE", "/guilds/{guild_id}", 0, s.deleteGuild)
	s.handle("GET", "/guilds/{guild_id}/channels", 0, s.guildChannels)
	s.handle("POST", "/guilds/{guild_id}/channels", 0, s.createChannel)
	s.handle("PATCH", "/guilds/{guild_id}/channels", 0, s.channelPositions)
	s.handle("GET", "/guilds/{guild_id}/roles", 0, s.guildRoles)
	s.handle("POST", "/guilds/{guild_id}/roles", 0, s.createRole)
	s.handle("PATCH", "/guilds/{guild_id}/roles", 0, s.rolePositions)
	s.handle("GET", "/guilds/{guild_id}/roles/{role_id}", 0, s.getRole)
	s.handle("PATCH", "/guilds/{guild_id}/roles/{role_id}", 0, s.modifyRole)
	s.handle("DELETE", "/guilds/{guild_id}/roles/{role_id}", 0, s.deleteRole)
	s.handle("GET", "/guilds/{guild_id}/members", 0, s.listMembers)
	s.handle("GET", "/guilds/{guild_id}/members/search", 0, s.searchMembers)
	s.handle("PATCH", "/guilds/{guild_id}/members/@me", 0, s.modifyMyMember)
	s.handle("GET", "/guilds/{guild_id}/members/{user_id}", 0, s.getMember)
	s.handle("PATCH", "/guilds/{guild_id}/members/{user_id}", 0, s.modifyMember)
	s.handle("DELETE", "/guilds/{guild_id}/members/{user_id}", 0, s.kickMember)
	s.handle("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", 0, s.addMemberRole)
	s.handle("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", 0, s.removeMemberRole)
	s.handle("GET", "/guilds/{guild_id}/bans", 0, s.listBans)
	s.handle("GET", "/guilds/{guild_id}/bans/{user_id}", 0, s.getBan)
	s.handle("PUT", "/guilds/{guild_id}/bans/{user_id}", 0, s.createBan)
	s.handle("DELETE", "/guilds/{guild_id}/bans/{user_id}", 0, s.removeBan)
	s.handle("GET", "/guilds/{guild_id}/invites", 0, s.guildInvites)
	s.handle("GET", "/guilds/{guild_id}/regions", 0, s.guildVoiceRegions)
	s.handle("GET", "/voice/regions", 0, s.voiceRegions)

	// Channels.
	s.handle("GET", "/channels/{channel_id}", 0, s.getChannel)
	s.handle("PATCH", "/channels/{channel_id}", 0, s.modifyChannel)
	s.handle("DELETE", "/channels/{channel_id}", 0, s.deleteChannel)
	s.handle("PUT", "/channels/{channel_id}/permissions/{overwrite_id}", 0, s.editOverwrite)
	s.handle("DELETE", "/channels/{channel_id}/permissions/{overwrite_id}", 0, s.deleteOverwrite)
	s.handle("GET", "/channels/{channel_id}/invites", 0, s.channelInvites)
	s.handle("POST", "/channels/{channel_id}/invites", 0, s.createInvite)
	s.handle("POST", "/channels/{channel_id}/typing", 0, s.typing)
	s.handle("GET", "/channels/{channel_id}/pins", 0, s.listPins)
	s.handle("PUT", "/channels/{channel_id}/pins/{message_id}", 0, s.pin)
	s.handle("DELETE", "/channels/{channel_id}/pins/{message_id}", 0, s.unpin)
	s.handle("GET", "/channels/{channel_id}/messages/pins", 0, s.listPinsV2)
	s.handle("PUT", "/channels/{channel_id}/messages/pins/{message_id}", 0, s.pin)

	// Invites.
	// Public, as on Discord: an invite link shows its guild to someone
	// not logged in yet.
	s.handle("GET", "/invites/{code}", public, s.getInvite)
	s.handle("POST", "/invites/{code}", 0, s.acceptInvite)
	s.handle("DELETE", "/invites/{code}", 0, s.deleteInvite)

	// Messages and reactions.
	s.handle("GET", "/channels/{channel_id}/messages", 0, s.listMessages)
	s.handle("POST", "/channels/{channel_id}/messages", 0, s.createMessage)
	s.handle("POST", "/channels/{channel_id}/messages/bulk-delete", 0, s.bulkDelete)
	s.handle("GET", "/channels/{channel_id}/messages/{message_id}", 0, s.getMessage)
	s.handle("PATCH", "/channels/{channel_id}/messages/{message_id}", 0, s.editMessage)
	s.handle("DELETE", "/channels/{channel_id}/messages/{message_id}", 0, s.deleteMessage)
	// One pattern for both: ServeMux cannot rank ".../messages/pins/{id}"
	// against ".../messages/{id}/reactions".
	s.handle("DELETE", "/channels/{channel_id}/messages/{message_id}/{sub}", 0, s.deleteMessageSub)
	s.handle("GET", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}", 0, s.reactionUsers)
	s.handle("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}", 0, s.clearEmoji)
	s.handle("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", 0, s.addReaction)
	s.handle("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", 0, s.removeOwnReaction)
	s.handle("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user_id}", 0, s.removeUserReaction)

	s.handle("POST", "/attachments/refresh-urls", 0, s.refreshURLs)

	// Where an authorization sends the browser (the "location" of POST
	// /oauth2/authorize), as Discord's page does: it says the bot was added.
	s.mux.HandleFunc("GET /oauth2/authorized", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = io.WriteString(w, authorizedPage)
	})

	// Files and the fallback.
	s.mux.HandleFunc("GET /attachments/{channel_id}/{attachment_id}/{filename}", s.serveAttachment)
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		if allow := s.allowedMethods(r); len(allow) > 0 {
			// A known route asked with another method: 405, as Discord.
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"message": "405: Method Not Allowed", "code": 0})
			return
		}
		writeError(w, notFoundErr)
	})
}

// allowedMethods lists the methods the API has a route for at the
// request's path; none for a path it does not know.
func (s *Server) allowedMethods(r *http.Request) []string {
	var out []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/api/" {
			out = append(out, m)
		}
	}
	return out
}

const authorizedPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorized</title>
<style>body{font-family:system-ui,sans-serif;margin:4rem auto;max-width:32rem;text-align:center}</style></head>
<body><h1>Authorized</h1><p>The application was added. You may close this window.</p></body></html>
`
