package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/secret"
	"github.com/accord-chat/accord/core/store"
)

// ValidateUsername applies Discord's unique-username rules: 2–32
// characters of a–z, 0–9, "_" and ".", with no two periods in a row, not
// "everyone" or "here" and not containing "discord".
func ValidateUsername(f *apierr.FormErrors, path, name string) {
	if n := len(name); n < 2 || n > 32 {
		f.Add(path, "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 32 in length.")
		return
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.'
		if !ok {
			f.Add(path, "USERNAME_INVALID_CHARACTERS", "Username can only contain lowercase letters, numbers, underscores and periods.")
			return
		}
	}
	if strings.Contains(name, "..") {
		f.Add(path, "USERNAME_INVALID_CHARACTERS", "Username cannot contain consecutive periods.")
		return
	}
	// Discord also refuses the mention keywords and its own name.
	if name == "everyone" || name == "here" || strings.Contains(name, "discord") {
		f.Add(path, "USERNAME_INVALID", "Username is not allowed.")
	}
}

// Register creates a user account and its first token.
func (e *Engine) Register(ctx context.Context, username, password string) (*model.User, string, error) {
	var f apierr.FormErrors
	ValidateUsername(&f, "username", username)
	if n := utf8.RuneCountInString(password); n < 8 || n > 256 {
		f.Add("password", "BASE_TYPE_BAD_LENGTH", "Must be between 8 and 256 in length.")
	}
	if err := f.Err(); err != nil {
		return nil, "", err
	}
	hash, err := secret.HashPassword(password)
	if err != nil {
		return nil, "", err
	}
	e.acct.wmu.Lock()
	defer e.acct.wmu.Unlock()
	if e.UserByLogin(username) != nil {
		return nil, "", apierr.InvalidForm("username", "USERNAME_ALREADY_TAKEN", "Username is unavailable. Try adding numbers, letters, underscores _, or periods.")
	}
	u := &model.User{ID: e.NewID(), Username: username, Discriminator: "0"}
	tok, digest := secret.NewToken(u.ID, e.now())
	p := &plan{}
	p.op(store.Op{Kind: store.OpPutUser, User: u})
	p.op(store.Op{Kind: store.OpPutCredentials, Credentials: &model.Credentials{UserID: u.ID, Login: loginKey(username), PasswordHash: hash}})
	p.op(store.Op{Kind: store.OpPutToken, Token: &model.Token{Hash: digest, UserID: u.ID, CreatedAt: e.Now()}})
	if err := e.commitGlobal(ctx, p); err != nil {
		return nil, "", err
	}
	return u, tok, nil
}

// Login checks a password and issues a new token.
func (e *Engine) Login(ctx context.Context, login, password string) (*model.User, string, error) {
	cred, err := e.st.GetCredentials(ctx, loginKey(login))
	if errors.Is(err, store.ErrNotFound) {
		// Spend the same time as a real check so response times do not
		// reveal which logins exist.
		_ = secret.CheckPassword("$2a$10$0000000000000000000000000000000000000000000000000000", password)
		return nil, "", secret.ErrBadCredentials
	}
	if err != nil {
		return nil, "", err
	}
	if err := secret.CheckPassword(cred.PasswordHash, password); err != nil {
		return nil, "", err
	}
	u := e.User(cred.UserID)
	// A rename leaves the old login's record behind (the store cannot
	// delete credentials); it no longer names its user, so it is stale.
	if u == nil || loginKey(u.Username) != loginKey(login) {
		return nil, "", secret.ErrBadCredentials
	}
	tok, digest := secret.NewToken(u.ID, e.now())
	p := &plan{}
	p.op(store.Op{Kind: store.OpPutToken, Token: &model.Token{Hash: digest, UserID: u.ID, CreatedAt: e.Now()}})
	if err := e.commitGlobal(ctx, p); err != nil {
		return nil, "", err
	}
	return u, tok, nil
}

// RevokeToken deletes a token of the user so it no longer authenticates,
// and closes the gateway sessions opened with it, on every node.
func (e *Engine) RevokeToken(ctx context.Context, userID ID, digest []byte) error {
	p := &plan{}
	p.op(store.Op{Kind: store.OpDeleteToken, Hash: digest})
	p.emit(revoked(userID, digest))
	return e.commitGlobal(ctx, p)
}

func revoked(userID ID, digest []byte) Event {
	return Event{Type: "TOKEN_REVOKED", UserIDs: []ID{userID}, Data: &TokenRevoked{UserID: userID, Digest: digest}}
}

// CreateApplication makes a bot application owned by ownerID (0 for one
// made by the operator) together with its bot user, and returns the bot's
// first token.
func (e *Engine) CreateApplication(ctx context.Context, ownerID ID, name, description string) (*model.Application, *model.User, string, error) {
	var f apierr.FormErrors
	if n := utf8.RuneCountInString(strings.TrimSpace(name)); n < 1 || n > 100 {
		f.Add("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
	}
	if utf8.RuneCountInString(description) > 400 {
		f.Add("description", "BASE_TYPE_MAX_LENGTH", "Must be 400 or fewer in length.")
	}
	if err := f.Err(); err != nil {
		return nil, nil, "", err
	}
	id := e.NewID()
	var vk [32]byte
	_, _ = rand.Read(vk[:])
	bot := &model.User{ID: id, Username: strings.TrimSpace(name), Discriminator: "0", Bot: true}
	tok, digest := secret.NewToken(id, e.now())
	app := &model.Application{ID: id, Name: strings.TrimSpace(name), Description: description, OwnerID: ownerID,
		BotPublic: true, VerifyKey: hex.EncodeToString(vk[:]), BotTokenHash: digest, Flags: DefaultAppFlags}
	p := &plan{}
	p.op(store.Op{Kind: store.OpPutUser, User: bot})
	p.op(store.Op{Kind: store.OpPutApplication, Application: app})
	p.op(store.Op{Kind: store.OpPutToken, Token: &model.Token{Hash: digest, UserID: id, Bot: true, CreatedAt: e.Now()}})
	e.acct.wmu.Lock()
	defer e.acct.wmu.Unlock()
	if err := e.commitGlobal(ctx, p); err != nil {
		return nil, nil, "", err
	}
	return app, bot, tok, nil
}

// DefaultAppFlags enables the three privileged gateway intents in their
// "limited" form (GATEWAY_PRESENCE_LIMITED 1<<13, GATEWAY_GUILD_MEMBERS_LIMITED
// 1<<15, GATEWAY_MESSAGE_CONTENT_LIMITED 1<<19): what Discord grants a bot in
// fewer than 100 guilds once its owner ticks the boxes. Self-hosters own
// their bots, so the boxes start ticked; owners can clear them.
const DefaultAppFlags = 1<<13 | 1<<15 | 1<<19

// intentFlags are the application flags an owner may change.
const intentFlags = 1<<12 | 1<<13 | 1<<14 | 1<<15 | 1<<18 | 1<<19

// ModifyApplication changes an application's description and intent
// flags. Only the owner (or the bot itself) may.
func (e *Engine) ModifyApplication(ctx context.Context, callerID, appID ID, description *string, flags *int) (*model.Application, error) {
	e.acct.wmu.Lock()
	defer e.acct.wmu.Unlock()
	app, err := e.Application(ctx, callerID, appID)
	if err != nil {
		return nil, err
	}
	na := *app
	var f apierr.FormErrors
	if description != nil {
		if utf8.RuneCountInString(*description) > 400 {
			f.Add("description", "BASE_TYPE_MAX_LENGTH", "Must be 400 or fewer in length.")
		}
		na.Description = *description
	}
	if flags != nil {
		if *flags&^intentFlags != 0 {
			f.Add("flags", "APPLICATION_FLAGS_INVALID", "Only the gateway intent flags can be set.")
		}
		na.Flags = app.Flags&^intentFlags | *flags&intentFlags
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	p := &plan{}
	p.op(store.Op{Kind: store.OpPutApplication, Application: &na})
	if err := e.commitGlobal(ctx, p); err != nil {
		return nil, err
	}
	return &na, nil
}

// Application returns an application the caller owns (or, for a bot, its
// own application).
func (e *Engine) Application(ctx context.Context, callerID, appID ID) (*model.Application, error) {
	app, err := e.st.GetApplication(ctx, appID)
	if err != nil {
		return nil, notFound(err, apierr.ErrUnknownApplication)
	}
	if app.OwnerID != callerID && app.ID != callerID {
		return nil, apierr.ErrUnknownApplication
	}
	return app, nil
}

// ResetBotToken revokes the bot's token and issues a new one. Only the
// application's owner may do it. The old digest is returned so the caller
// can drop it from token caches.
func (e *Engine) ResetBotToken(ctx context.Context, callerID, appID ID) (token string, oldDigest []byte, err error) {
	e.acct.wmu.Lock()
	defer e.acct.wmu.Unlock()
	app, err := e.st.GetApplication(ctx, appID)
	if err != nil {
		return "", nil, notFound(err, apierr.ErrUnknownApplication)
	}
	if app.OwnerID != callerID {
		return "", nil, apierr.ErrUnknownApplication
	}
	tok, digest := secret.NewToken(app.ID, e.now())
	old := app.BotTokenHash
	na := *app
	na.BotTokenHash = digest
	p := &plan{}
	if len(old) > 0 {
		p.op(store.Op{Kind: store.OpDeleteToken, Hash: old})
		p.emit(revoked(app.ID, old))
	}
	p.op(store.Op{Kind: store.OpPutApplication, Application: &na})
	p.op(store.Op{Kind: store.OpPutToken, Token: &model.Token{Hash: digest, UserID: app.ID, Bot: true, CreatedAt: e.Now()}})
	if err := e.commitGlobal(ctx, p); err != nil {
		return "", nil, err
	}
	return tok, old, nil
}

// UserPatch is a change to the current user; nil fields stay.
type UserPatch struct {
	Username   *string
	GlobalName **string
	Avatar     **string
	// NewPassword changes the password; Password must then be the
	// current one.
	Password, NewPassword *string
}

// ModifyUser changes the caller's profile and announces USER_UPDATE. A
// password change also revokes every token of the user issued before
// now (as on Discord, it logs out every other device and session) and
// returns the new token the caller goes on with; token is "" otherwise.
func (e *Engine) ModifyUser(ctx context.Context, userID ID, patch UserPatch) (_ *model.User, token string, _ error) {
	e.acct.wmu.Lock()
	defer e.acct.wmu.Unlock()
	cur := e.User(userID)
	if cur == nil {
		return nil, "", apierr.ErrUnknownUser
	}
	u := *cur
	var f apierr.FormErrors
	if patch.Username != nil {
		if !u.Bot {
			ValidateUsername(&f, "username", *patch.Username)
			if other := e.UserByLogin(*patch.Username); other != nil && other.ID != userID {
				f.Add("username", "USERNAME_ALREADY_TAKEN", "Username is unavailable. Try adding numbers, letters, underscores _, or periods.")
			}
		} else if n := utf8.RuneCountInString(*patch.Username); n < 2 || n > 32 {
			f.Add("username", "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 32 in length.")
		}
		u.Username = *patch.Username
	}
	if patch.GlobalName != nil {
		if gn := *patch.GlobalName; gn != nil && (utf8.RuneCountInString(*gn) < 1 || utf8.RuneCountInString(*gn) > 32) {
			f.Add("global_name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
		}
		u.GlobalName = *patch.GlobalName
	}
	if patch.Avatar != nil {
		u.Avatar = *patch.Avatar
	}
	var cred *model.Credentials
	if !u.Bot {
		c, err := e.st.GetCredentials(ctx, loginKey(cur.Username))
		switch {
		case err == nil:
			cred = c
		case !errors.Is(err, store.ErrNotFound):
			return nil, "", fmt.Errorf("modify user: look up credentials: %w", err)
		}
	}
	var hash string
	if patch.NewPassword != nil {
		switch {
		case u.Bot || cred == nil:
			f.Add("new_password", "PASSWORD_NONE", "This account has no password; bots reset their token instead.")
		case patch.Password == nil:
			f.Add("password", "BASE_TYPE_REQUIRED", "This field is required")
		case secret.CheckPassword(cred.PasswordHash, *patch.Password) != nil:
			f.Add("password", "PASSWORD_DOES_NOT_MATCH", "Password does not match.")
		}
		if n := utf8.RuneCountInString(*patch.NewPassword); n < 8 || n > 256 {
			f.Add("new_password", "BASE_TYPE_BAD_LENGTH", "Must be between 8 and 256 in length.")
		}
		if f.Err() == nil {
			h, err := secret.HashPassword(*patch.NewPassword)
			if err != nil {
				return nil, "", err
			}
			hash = h
		}
	}
	if err := f.Err(); err != nil {
		return nil, "", err
	}
	p := &plan{}
	p.op(store.Op{Kind: store.OpPutUser, User: &u})
	if cred != nil && (cred.Login != loginKey(u.Username) || hash != "") {
		nc := *cred
		nc.Login = loginKey(u.Username)
		if hash != "" {
			now := e.Now()
			nc.PasswordHash, nc.TokensAfter = hash, now
			var digest []byte
			token, digest = secret.NewToken(u.ID, now)
			// The new token is created at the cutoff, not before it, so
			// it survives the revocation it is committed with.
			p.op(store.Op{Kind: store.OpPutToken, Token: &model.Token{Hash: digest, UserID: u.ID, CreatedAt: now}})
			p.emit(Event{Type: "TOKEN_REVOKED", UserIDs: []ID{u.ID}, Data: &TokenRevoked{UserID: u.ID, Before: now}})
		}
		p.op(store.Op{Kind: store.OpPutCredentials, Credentials: &nc})
	}
	p.emit(Event{Type: "USER_UPDATE", UserIDs: []ID{userID}, Data: &u})
	if err := e.commitGlobal(ctx, p); err != nil {
		return nil, "", err
	}
	// Other members cache the user inside member objects: tell each of the
	// user's guilds, in that guild's event order, as Discord does.
	for _, gid := range e.UserGuilds(userID) {
		_ = e.withGuild(ctx, gid, func(s *State) (*plan, error) {
			m := s.Members[userID]
			if m == nil {
				return nil, nil
			}
			p := &plan{}
			p.emit(Event{Type: "GUILD_MEMBER_UPDATE", GuildID: gid, Data: m})
			return p, nil
		})
	}
	return &u, token, nil
}
