package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/secret"
	"github.com/accord-chat/accord/core/store"
)

// ErrInvalidToken is returned for a token that is unknown or revoked.
var ErrInvalidToken = errors.New("invalid token")

// ParseHeader splits an Authorization header into the token and whether it
// was a bot token. Discord takes user tokens bare and bot tokens as
// "Bot <token>"; "Bearer" is accepted for OAuth2 clients.
func ParseHeader(h string) (token string, bot bool) {
	h = strings.TrimSpace(h)
	switch {
	case len(h) > 4 && strings.EqualFold(h[:4], "Bot "):
		return strings.TrimSpace(h[4:]), true
	case len(h) > 7 && strings.EqualFold(h[:7], "Bearer "):
		return strings.TrimSpace(h[7:]), false
	}
	return h, false
}

// Verifier resolves tokens to users, caching digests in memory so that the
// hot path of every request is one SHA-256 and a map lookup.
//
// Two things revoke a token: deleting it (logout, a bot token reset),
// after which the store no longer has it and Forget drops it from the
// cache; and a password change, which sets a cutoff in the user's
// credentials (every token created before it is void) and tells the node
// through RevokeBefore. The cutoffs learned that way are kept in memory,
// and a token read from the store is checked against the stored cutoff,
// so a token read before the change and cached after it is refused too.
// Verifier is safe for concurrent use.
type Verifier struct {
	st    store.AccountStore
	mu    sync.RWMutex
	cache map[[32]byte]*model.Token
	after map[model.ID]time.Time // user → tokens created before are void
}

// NewVerifier returns a Verifier over the store.
func NewVerifier(st store.AccountStore) *Verifier {
	return &Verifier{st: st, cache: map[[32]byte]*model.Token{}, after: map[model.ID]time.Time{}}
}

// Verify returns the stored token record for a presented token.
func (v *Verifier) Verify(ctx context.Context, token string) (*model.Token, error) {
	if token == "" || len(token) > 512 {
		return nil, ErrInvalidToken
	}
	var key [32]byte
	copy(key[:], secret.Digest(token))
	v.mu.RLock()
	t := v.cache[key]
	v.mu.RUnlock()
	if t != nil {
		return t, nil
	}
	t, err := v.st.GetToken(ctx, key[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	if !t.Bot { // bots have no password, so no cutoff
		cutoff, err := v.storedCutoff(ctx, t.UserID)
		if err != nil {
			return nil, err
		}
		if t.CreatedAt.Before(cutoff) {
			return nil, ErrInvalidToken
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	// A RevokeBefore that ran while the store was read is seen here.
	if t.CreatedAt.Before(v.after[t.UserID]) {
		return nil, ErrInvalidToken
	}
	v.cache[key] = t
	return t, nil
}

// storedCutoff reads the user's token cutoff from their credentials.
func (v *Verifier) storedCutoff(ctx context.Context, userID model.ID) (time.Time, error) {
	u, err := v.st.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return time.Time{}, ErrInvalidToken
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("look up token's user: %w", err)
	}
	c, err := v.st.GetCredentials(ctx, model.LoginKey(u.Username))
	if errors.Is(err, store.ErrNotFound) || err == nil && c.UserID != userID {
		return time.Time{}, nil // an account made without a password
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("look up credentials: %w", err)
	}
	return c.TokensAfter, nil
}

// RevokeBefore voids every token of the user created before the cutoff.
// Call it once the credentials carrying the cutoff are committed.
func (v *Verifier) RevokeBefore(userID model.ID, cutoff time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if cutoff.After(v.after[userID]) {
		v.after[userID] = cutoff
	}
	for k, t := range v.cache {
		if t.UserID == userID && t.CreatedAt.Before(cutoff) {
			delete(v.cache, k)
		}
	}
}

// Forget drops a revoked token's digest from the cache. Call it after the
// store delete is committed.
func (v *Verifier) Forget(digest []byte) {
	var key [32]byte
	copy(key[:], digest)
	v.mu.Lock()
	delete(v.cache, key)
	v.mu.Unlock()
}
