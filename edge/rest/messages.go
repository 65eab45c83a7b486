package rest

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/model"
	sh "github.com/accord-chat/accord/core/shard"
	"github.com/accord-chat/accord/core/store"
)

type allowedMentionsBody struct {
	Parse       []string `json:"parse"`
	Users       []ID     `json:"users"`
	Roles       []ID     `json:"roles"`
	RepliedUser bool     `json:"replied_user"`
}

func (a *allowedMentionsBody) engine(f *apierr.FormErrors) *engine.AllowedMentions {
	if a == nil {
		return nil
	}
	for i, p := range a.Parse {
		switch p {
		case "users", "roles", "everyone":
		default:
			f.Add("allowed_mentions.parse."+itoaRest(i), "BASE_TYPE_CHOICES", "Value must be one of ('roles', 'users', 'everyone').")
		}
	}
	if containsStr(a.Parse, "users") && len(a.Users) > 0 {
		f.Add("allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE", "parse:[\"users\"] and users: [ids] are mutually exclusive.")
	}
	if containsStr(a.Parse, "roles") && len(a.Roles) > 0 {
		f.Add("allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE", "parse:[\"roles\"] and roles: [ids] are mutually exclusive.")
	}
	if len(a.Users) > 100 || len(a.Roles) > 100 {
		f.Add("allowed_mentions", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
	}
	return &engine.AllowedMentions{Parse: a.Parse, Users: a.Users, Roles: a.Roles, RepliedUser: a.RepliedUser}
}

type messageBody struct {
	Content          opt[string]             `json:"content"`
	Nonce            json.RawMessage         `json:"nonce"`
	EnforceNonce     bool                    `json:"enforce_nonce"`
	TTS              bool                    `json:"tts"`
	Embeds           opt[[]json.RawMessage]  `json:"embeds"`
	Embed            json.RawMessage         `json:"embed"` // pre-v8 clients
	AllowedMentions  *allowedMentionsBody    `json:"allowed_mentions"`
	MessageReference *model.MessageReference `json:"message_reference"`
	Flags            opt[int]                `json:"flags"`
	Attachments      opt[[]attachmentRef]    `json:"attachments"`
}

type attachmentRef struct {
	ID          json.RawMessage `json:"id"` // index into files[n] on create, snowflake on edit
	Filename    string          `json:"filename"`
	Description string          `json:"description"`
}

func (s *Server) createMessage(r *request) (any, error) {
	cid, err := s.channelID(r)
	if err != nil {
		return nil, err
	}
	var body messageBody
	var files []upload
	if isMultipart(r.Request) {
		files, err = s.readMultipart(r, &body)
	} else {
		err = decodeJSON(r.Request, &body)
	}
	if err != nil {
		return nil, err
	}
	// Spooled files not moved into place (the request failed first) go.
	defer discardSpooled(files)
	mp, err := messageParams(&body)
	if err != nil {
		return nil, err
	}
	atts, err := s.storeUploads(r.Context(), cid, files, body.Attachments.V)
	if err != nil {
		return nil, err
	}
	mp.Attachments = atts
	ev, err := s.eng.CreateMessage(r.Context(), r.user.ID, cid, mp)
	if err != nil {
		var refused *apierr.Error
		var nl *sh.NotLeaderError
		// Only a message known never to be committed gives its files up:
		// after a timeout or a lost leadership it may be, and a committed
		// message must not point at a missing file (a stray file costs
		// only space).
		if errors.As(err, &refused) || errors.As(err, &nl) {
			s.discardUploads(cid, atts)
		}
		return nil, err
	}
	return s.RenderMessageEvent(r.Context(), r.user.ID, ev), nil
}

// messageParams checks a create-message body the way Discord's form
// validation does and turns it into the engine's parameters (without
// attachments).
func messageParams(body *messageBody) (engine.MessageParams, error) {
	var f apierr.FormErrors
	embeds := body.Embeds.V
	if len(embeds) == 0 && len(body.Embed) > 0 && string(body.Embed) != "null" {
		embeds = []json.RawMessage{body.Embed}
	}
	for i, e := range embeds {
		validateEmbed(&f, "embeds."+itoaRest(i), e)
	}
	if n := embedChars(embeds); n > 6000 {
		f.Add("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
	}
	if len(body.Nonce) > 0 {
		validateNonce(&f, body.Nonce)
	}
	am := body.AllowedMentions.engine(&f)
	if err := f.Err(); err != nil {
		return engine.MessageParams{}, err
	}
	mp := engine.MessageParams{Content: body.Content.V, Nonce: body.Nonce, TTS: body.TTS, Embeds: embeds,
		Reference: body.MessageReference, AllowedMentions: am, Flags: body.Flags.V, EnforceNonce: body.EnforceNonce}
	if string(mp.Nonce) == "null" {
		mp.Nonce = nil
	}
	return mp, nil
}

func validateNonce(f *apierr.FormErrors, raw json.RawMessage) {
	var v any
	_ = json.Unmarshal(raw, &v)
	switch v := v.(type) {
	case nil, float64:
	case string:
		if len(v) > 25 {
			f.Add("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
		}
	default:
		f.Add("nonce", "BASE_TYPE_INVALID", "Nonce must be a string or an integer.")
	}
}

func (s *Server) messageIDs(r *request) (ID, ID, error) {
	cid, err := s.channelID(r)
	if err != nil {
		return 0, 0, err
	}
	mid, err := r.idParam("message_id")
	return cid, mid, err
}

func (s *Server) getMessage(r *request) (any, error) {
	cid, mid, err := s.messageIDs(r)
	if err != nil {
		return nil, err
	}
	m, c, err := s.eng.Message(r.Context(), r.user.ID, cid, mid)
	if err != nil {
		return nil, err
	}
	return s.newRenderer(r.Context(), r.user.ID, c.GuildID(), m).messages([]*model.Message{m})[0], nil
}

// listMessages serves history: limit 1–100 (default 50) and at most one of
// before, after, around; newest first.
func (s *Server) listMessages(r *request) (any, error) {
	cid, err := s.channelID(r)
	if err != nil {
		return nil, err
	}
	limit, err := queryInt(r.Request, "limit", 50, 1, 100)
	if err != nil {
		return nil, err
	}
	var q store.MessageQuery
	q.Limit = limit
	set := 0
	for _, p := range []struct {
		name string
		dst  *ID
	}{{"before", &q.Before}, {"after", &q.After}, {"around", &q.Around}} {
		v, err := querySnowflake(r.Request, p.name)
		if err != nil {
			return nil, err
		}
		if r.URL.Query().Has(p.name) {
			set++
		}
		*p.dst = v
	}
	if set > 1 {
		return nil, apierr.InvalidForm("around", "BASE_TYPE_INVALID", "Only one of before, after and around may be given.")
	}
	if r.URL.Query().Has("after") && q.After == 0 {
		// after=0 is how clients read a channel from its start; the store
		// takes After 0 as "not given", and no message has ID 1.
		q.After = 1
	}
	msgs, c, err := s.eng.Messages(r.Context(), r.user.ID, cid, q)
	if err != nil {
		return nil, err
	}
	return s.newRenderer(r.Context(), r.user.ID, c.GuildID(), msgs...).messages(msgs), nil
}

func (s *Server) editMessage(r *request) (any, error) {
	cid, mid, err := s.messageIDs(r)
	if err != nil {
		return nil, err
	}
	var body messageBody
	var files []upload
	if isMultipart(r.Request) {
		files, err = s.readMultipart(r, &body)
	} else {
		err = decodeJSON(r.Request, &body)
	}
	if err != nil {
		return nil, err
	}
	defer discardSpooled(files)
	var f apierr.FormErrors
	mp := engine.MessagePatch{Content: body.Content.ptr(), Flags: body.Flags.ptr(), AllowedMentions: body.AllowedMentions.engine(&f)}
	if body.Content.Set && body.Content.Null {
		empty := ""
		mp.Content = &empty
	}
	if body.Embeds.Set {
		embeds := body.Embeds.V
		for i, e := range embeds {
			validateEmbed(&f, "embeds."+itoaRest(i), e)
		}
		mp.Embeds = &embeds
	}
	if body.Attachments.Set {
		keep := []ID{}
		for _, a := range body.Attachments.V {
			var id ID
			if err := id.UnmarshalJSON(a.ID); err == nil {
				keep = append(keep, id)
			}
		}
		mp.KeepAttachments = &keep
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	if len(files) > 0 {
		return nil, apierr.InvalidForm("files", "BASE_TYPE_INVALID", "Adding files to an existing message is not supported.")
	}
	ev, err := s.eng.EditMessage(r.Context(), r.user.ID, cid, mid, mp)
	if err != nil {
		return nil, err
	}
	return s.RenderMessageEvent(r.Context(), r.user.ID, ev), nil
}

func (s *Server) deleteMessage(r *request) (any, error) {
	cid, mid, err := s.messageIDs(r)
	if err != nil {
		return nil, err
	}
	if err := s.eng.DeleteMessage(r.Context(), r.user.ID, cid, mid); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

// deleteMessageSub serves DELETE .../messages/pins/{id} and
// DELETE .../messages/{id}/reactions.
func (s *Server) deleteMessageSub(r *request) (any, error) {
	switch {
	case r.PathValue("message_id") == "pins":
		r.SetPathValue("message_id", r.PathValue("sub"))
		return s.unpin(r)
	case r.PathValue("sub") == "reactions":
		return s.clearReactions(r)
	}
	return nil, notFoundErr
}

func (s *Server) bulkDelete(r *request) (any, error) {
	cid, err := s.channelID(r)
	if err != nil {
		return nil, err
	}
	var body struct {
		Messages []ID `json:"messages"`
	}
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	if err := s.eng.BulkDelete(r.Context(), r.user.ID, cid, body.Messages); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

// emojiParam decodes the {emoji} path segment: URL-encoded unicode or
// "name:id".
func emojiParam(r *request) (string, error) {
	raw := r.PathValue("emoji")
	e, err := url.PathUnescape(raw)
	e = strings.TrimSpace(e)
	// An empty emoji must not reach ClearReactions, where "" means every
	// emoji.
	if err != nil || e == "" {
		return "", apierr.ErrUnknownEmoji
	}
	return e, nil
}

func (s *Server) reactionTarget(r *request) (ID, ID, string, error) {
	cid, mid, err := s.messageIDs(r)
	if err != nil {
		return 0, 0, "", err
	}
	e, err := emojiParam(r)
	return cid, mid, e, err
}

func (s *Server) addReaction(r *request) (any, error) {
	cid, mid, e, err := s.reactionTarget(r)
	if err != nil {
		return nil, err
	}
	if err := s.eng.AddReaction(r.Context(), r.user.ID, cid, mid, e); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func (s *Server) removeOwnReaction(r *request) (any, error) {
	cid, mid, e, err := s.reactionTarget(r)
	if err != nil {
		return nil, err
	}
	if err := s.eng.RemoveReaction(r.Context(), r.user.ID, cid, mid, e, r.user.ID); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func (s *Server) removeUserReaction(r *request) (any, error) {
	cid, mid, e, err := s.reactionTarget(r)
	if err != nil {
		return nil, err
	}
	uid, err := r.userParam("user_id")
	if err != nil {
		return nil, err
	}
	if err := s.eng.RemoveReaction(r.Context(), r.user.ID, cid, mid, e, uid); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func (s *Server) clearReactions(r *request) (any, error) {
	cid, mid, err := s.messageIDs(r)
	if err != nil {
		return nil, err
	}
	if err := s.eng.ClearReactions(r.Context(), r.user.ID, cid, mid, ""); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func (s *Server) clearEmoji(r *request) (any, error) {
	cid, mid, e, err := s.reactionTarget(r)
	if err != nil {
		return nil, err
	}
	if err := s.eng.ClearReactions(r.Context(), r.user.ID, cid, mid, e); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func (s *Server) reactionUsers(r *request) (any, error) {
	cid, mid, e, err := s.reactionTarget(r)
	if err != nil {
		return nil, err
	}
	limit, err := queryInt(r.Request, "limit", 25, 1, 100)
	if err != nil {
		return nil, err
	}
	after, err := querySnowflake(r.Request, "after")
	if err != nil {
		return nil, err
	}
	if t := r.URL.Query().Get("type"); t != "" && t != "0" && t != "1" {
		return nil, apierr.InvalidForm("type", "BASE_TYPE_CHOICES", "Value must be one of (0, 1).")
	}
	if r.URL.Query().Get("type") == "1" { // super reactions: none here
		return []*model.User{}, nil
	}
	users, err := s.eng.ReactionUsers(r.Context(), r.user.ID, cid, mid, e, after, limit)
	if err != nil {
		return nil, err
	}
	return users, nil
}

func itoaRest(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
