package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
)

// ErrBadCredentials is returned for a wrong login or password.
var ErrBadCredentials = errors.New("invalid login or password")

// ErrInvalidToken is returned for a token that is unknown or revoked.
var ErrInvalidToken = errors.New("invalid token")

// BcryptCost is the work factor for password hashes. Tests lower it.
var BcryptCost = bcrypt.DefaultCost

// HashPassword returns a bcrypt hash. bcrypt reads at most 72 bytes, so
// longer passwords are pre-hashed with SHA-256 to keep every byte counting.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword(prehash(password), BcryptCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword compares a password with a hash in constant time.
func CheckPassword(hash, password string) error {
	if bcrypt.CompareHashAndPassword([]byte(hash), prehash(password)) != nil {
		return ErrBadCredentials
	}
	return nil
}

func prehash(p string) []byte {
	if len(p) <= 72 {
		return []byte(p)
	}
	sum := sha256.Sum256([]byte(p))
	return []byte(base64.RawStdEncoding.EncodeToString(sum[:]))
}

// NewToken makes a random token for a user and returns it with the digest
// to store.
func NewToken(userID snowflake.ID, now time.Time) (token string, digest []byte) {
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	enc := base64.RawURLEncoding
	token = enc.EncodeToString([]byte(strconv.FormatUint(uint64(userID), 10))) + "." +
		enc.EncodeToString([]byte(strconv.FormatInt(now.Unix(), 10))) + "." +
		enc.EncodeToString(secret[:])
	return token, Digest(token)
}

// Digest is what the store keeps of a token.
func Digest(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

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
	copy(key[:], Digest(token))
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
