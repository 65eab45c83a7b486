package rest

import (
	"errors"
	"strings"
	"time"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/core/secret"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/edge/discord"
)

var notFoundErr = apierr.ErrNotFound

func secondsDur(n int) time.Duration { return time.Duration(n) * time.Second }

func (s *Server) register(r *request) (any, error) {
	var body struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	u, tok, err := s.eng.Register(r.Context(), body.Username, body.Password)
	if err != nil {
		return nil, err
	}
	return created{map[string]any{"token": tok, "user_id": u.ID}}, nil
}

func (s *Server) login(r *request) (any, error) {
	var body struct {
		Login    string `json:"login"`
		Password string `json:"password"`
	}
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	u, tok, err := s.eng.Login(r.Context(), body.Login, body.Password)
	if errors.Is(err, secret.ErrBadCredentials) {
		var f apierr.FormErrors
		f.Add("login", "INVALID_LOGIN", "Login or password is invalid.")
		f.Add("password", "INVALID_LOGIN", "Login or password is invalid.")
		return nil, f.Err()
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"token": tok, "user_id": u.ID}, nil
}

func (s *Server) logout(r *request) (any, error) {
	if err := s.eng.RevokeToken(r.Context(), r.user.ID, r.token.Hash); err != nil {
		return nil, err
	}
	s.cfg.Verifier.Forget(r.token.Hash)
	return noContent{}, nil
}

func (s *Server) renderApp(app *model.Application) *discord.Application {
	return &discord.Application{ID: app.ID, Name: app.Name, Description: app.Description, BotPublic: app.BotPublic,
		Owner: s.eng.User(app.OwnerID), VerifyKey: app.VerifyKey, Flags: app.Flags, Bot: s.eng.User(app.ID)}
}

func (s *Server) createApplication(r *request) (any, error) {
	if r.user.Bot {
		return nil, apierr.ErrBotsForbidden
	}
	var body struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	app, _, tok, err := s.eng.CreateApplication(r.Context(), r.user.ID, body.Name, body.Description)
	if err != nil {
		return nil, err
	}
	out := struct {
		*discord.Application
		Token string `json:"token"`
	}{s.renderApp(app), tok}
	return created{out}, nil
}

// createBot is the operator's `accord bot create`: a bot whose application
// no user owns. It answers {"id", "name", "token"}.
func (s *Server) createBot(r *request) (any, error) {
	var body struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	app, _, tok, err := s.eng.CreateApplication(r.Context(), 0, body.Name, "")
	if err != nil {
		return nil, err
	}
	return created{struct {
		ID    ID     `json:"id"`
		Name  string `json:"name"`
		Token string `json:"token"`
	}{app.ID, app.Name, tok}}, nil
}

func (s *Server) getApplication(r *request) (any, error) {
	id, err := r.idParam("application_id")
	if err != nil {
		return nil, err
	}
	app, err := s.eng.Application(r.Context(), r.user.ID, id)
	if err != nil {
		return nil, err
	}
	return s.renderApp(app), nil
}

func (s *Server) resetBot(r *request) (any, error) {
	id, err := r.idParam("application_id")
	if err != nil {
		return nil, err
	}
	tok, old, err := s.eng.ResetBotToken(r.Context(), r.user.ID, id)
	if err != nil {
		return nil, err
	}
	if len(old) > 0 {
		s.cfg.Verifier.Forget(old)
	}
	return map[string]any{"token": tok}, nil
}

// currentApplication is the bot's own application (discord.js calls it at
// login).
func (s *Server) currentApplication(r *request) (any, error) {
	if !r.user.Bot {
		return nil, apierr.ErrUnknownApplication
	}
	app, err := s.eng.Application(r.Context(), r.user.ID, r.user.ID)
	if err != nil {
		return nil, err
	}
	return s.renderApp(app), nil
}

type appPatchBody struct {
	Description opt[string] `json:"description"`
	Flags       opt[int]    `json:"flags"`
}

func (s *Server) patchApp(r *request, appID ID) (any, error) {
	var body appPatchBody
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	app, err := s.eng.ModifyApplication(r.Context(), r.user.ID, appID, body.Description.ptr(), body.Flags.ptr())
	if err != nil {
		return nil, err
	}
	return s.renderApp(app), nil
}

func (s *Server) modifyCurrentApplication(r *request) (any, error) {
	if !r.user.Bot {
		return nil, apierr.ErrUnknownApplication
	}
	return s.patchApp(r, r.user.ID)
}

func (s *Server) modifyApplication(r *request) (any, error) {
	id, err := r.idParam("application_id")
	if err != nil {
		return nil, err
	}
	return s.patchApp(r, id)
}

// authorize is Discord's bot-authorization step of the OAuth2 flow,
// reduced to what a signed-in user's client sends: the bot
// (client_id) and the permissions it asks for, for a guild the user
// manages.
func (s *Server) authorize(r *request) (any, error) {
	if r.user.Bot {
		return nil, apierr.ErrBotsForbidden
	}
	q := r.URL.Query()
	var f apierr.FormErrors
	clientID, err := snowflake.Parse(q.Get("client_id"))
	if err != nil {
		f.Add("client_id", "NUMBER_TYPE_COERCE", "Value is not snowflake.")
	}
	scopes := strings.Fields(q.Get("scope"))
	if !containsStr(scopes, "bot") {
		f.Add("scope", "SCOPE_INVALID", "Only the bot scope is supported.")
	}
	var body struct {
		GuildID     ID         `json:"guild_id"`
		Permissions permString `json:"permissions"`
		Authorize   bool       `json:"authorize"`
	}
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	perms := uint64(body.Permissions)
	if body.Permissions == 0 && q.Get("permissions") != "" {
		p, err := perm.Parse(q.Get("permissions"))
		if err != nil {
			f.Add("permissions", "NUMBER_TYPE_COERCE", "Value is not a permission set.")
		}
		perms = p
	}
	if body.GuildID == 0 {
		f.Add("guild_id", "BASE_TYPE_REQUIRED", "This field is required")
	}
	if !body.Authorize {
		f.Add("authorize", "BASE_TYPE_REQUIRED", "Authorization must be granted.")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	if err := s.eng.AddBot(r.Context(), r.user.ID, body.GuildID, clientID, perms&perm.All); err != nil {
		return nil, err
	}
	return map[string]any{"location": s.cfg.PublicURL + "/oauth2/authorized"}, nil
}

func containsStr(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func (s *Server) gateway(r *request) (any, error) {
	return map[string]any{"url": s.cfg.GatewayURL}, nil
}

func (s *Server) gatewayBot(r *request) (any, error) {
	return map[string]any{
		"url":    s.cfg.GatewayURL,
		"shards": 1,
		"session_start_limit": map[string]any{
			"total": 1000, "remaining": 1000, "reset_after": 86400000, "max_concurrency": 1,
		},
	}, nil
}

func (s *Server) getUser(r *request) (any, error) {
	id, err := r.userParam("user_id")
	if err != nil {
		return nil, err
	}
	u := s.eng.User(id)
	if u == nil {
		return nil, apierr.ErrUnknownUser
	}
	return u, nil
}

func (s *Server) modifyMe(r *request) (any, error) {
	var body struct {
		Username    opt[string] `json:"username"`
		GlobalName  opt[string] `json:"global_name"`
		Avatar      opt[string] `json:"avatar"`
		Password    opt[string] `json:"password"`
		NewPassword opt[string] `json:"new_password"`
	}
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	u, token, err := s.eng.ModifyUser(r.Context(), r.user.ID, engine.UserPatch{
		Username: body.Username.ptr(), GlobalName: body.GlobalName.nullable(), Avatar: body.Avatar.nullable(),
		Password: body.Password.ptr(), NewPassword: body.NewPassword.ptr(),
	})
	if err != nil {
		return nil, err
	}
	if token == "" {
		return u, nil
	}
	// Discord answers a password change with the user and the token that
	// replaces the caller's (every older one is now void). This node's
	// cache forgets the old ones now rather than when the event arrives;
	// the new token was created at the cutoff.
	if t, err := s.cfg.Verifier.Verify(r.Context(), token); err == nil {
		s.cfg.Verifier.RevokeBefore(u.ID, t.CreatedAt)
	}
	return struct {
		*model.User
		Token string `json:"token"`
	}{u, token}, nil
}

func (s *Server) myGuilds(r *request) (any, error) {
	limit, err := queryInt(r.Request, "limit", 200, 1, 200)
	if err != nil {
		return nil, err
	}
	before, err := querySnowflake(r.Request, "before")
	if err != nil {
		return nil, err
	}
	after, err := querySnowflake(r.Request, "after")
	if err != nil {
		return nil, err
	}
	withCounts := r.URL.Query().Get("with_counts") == "true"
	out := []discord.PartialGuild{}
	for _, gid := range s.eng.UserGuilds(r.user.ID) {
		if (after != 0 && gid <= after) || (before != 0 && gid >= before) {
			continue
		}
		if len(out) >= limit {
			break
		}
		_ = s.eng.View(gid, func(st *engine.State) error {
			pg := discord.PartialGuild{ID: gid, Name: st.Guild.Name, Icon: st.Guild.Icon, Owner: st.Guild.OwnerID == r.user.ID,
				Permissions: perm.Format(st.BasePerms(r.user.ID)), Features: []string{}}
			if withCounts {
				pg.ApproximateMemberCount = len(st.Members)
			}
			out = append(out, pg)
			return nil
		})
	}
	return out, nil
}

func (s *Server) myMember(r *request) (any, error) {
	gid, err := r.idParam("guild_id")
	if err != nil {
		return nil, err
	}
	var out *discord.Member
	err = s.eng.ViewAsMember(gid, r.user.ID, func(st *engine.State) error {
		out = s.member(st.Members[r.user.ID])
		return nil
	})
	return out, err
}

func (s *Server) leaveGuild(r *request) (any, error) {
	gid, err := r.idParam("guild_id")
	if err != nil {
		return nil, err
	}
	if err := s.eng.RemoveMember(r.Context(), r.user.ID, gid, r.user.ID); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func (s *Server) myDMs(r *request) (any, error) {
	out := []*discord.Channel{}
	for _, c := range s.eng.UserDMs(r.user.ID) {
		out = append(out, s.dmChannel(c, r.user.ID))
	}
	return out, nil
}

func (s *Server) openDM(r *request) (any, error) {
	var body struct {
		RecipientID ID `json:"recipient_id"`
	}
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	if body.RecipientID == 0 {
		return nil, apierr.InvalidForm("recipient_id", "BASE_TYPE_REQUIRED", "This field is required")
	}
	c, err := s.eng.OpenDM(r.Context(), r.user.ID, body.RecipientID)
	if err != nil {
		return nil, err
	}
	return s.dmChannel(c, r.user.ID), nil
}
