package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

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
type Verifier struct {
	st    store.AccountStore
	mu    sync.RWMutex
	cache map[[32]byte]*model.Token
}

// NewVerifier returns a Verifier over the store.
func NewVerifier(st store.AccountStore) *Verifier {
	return &Verifier{st: st, cache: map[[32]byte]*model.Token{}}
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
	v.mu.Lock()
	v.cache[key] = t
	v.mu.Unlock()
	return t, nil
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
