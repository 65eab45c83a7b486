package voice

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"sync"
	"time"
)

// Token errors, each its own close code (see closeFor).
var (
	ErrTokenInvalid = errors.New("voice token invalid")
	ErrTokenExpired = errors.New("voice token expired")
	ErrTokenReused  = errors.New("voice token already used")
)

// Tokens issues and checks voice tokens. A token is a MAC over the guild,
// the user, the gateway session and an expiry, so any node of the region
// holding the key can check it; each node accepts a token once.
// Safe for concurrent use.
type Tokens struct {
	key []byte
	ttl time.Duration
	now func() time.Time

	mu   sync.Mutex
	used map[string]time.Time // token → its expiry
}

// NewTokens derives the token key from root (the region's shared secret)
// so that it signs nothing else.
func NewTokens(root []byte, ttl time.Duration, now func() time.Time) *Tokens {
	m := hmac.New(sha256.New, root)
	m.Write([]byte("accord voice token v1"))
	if now == nil {
		now = time.Now
	}
	return &Tokens{key: m.Sum(nil), ttl: ttl, now: now, used: map[string]time.Time{}}
}

const tokenBody = 8 + 8 + 8 + 8 // guild, user, expiry, nonce

// mac binds a token to the gateway session and the node that hosts the
// channel: a token a client got for one voice server is refused by the
// others (NUL cannot occur in either name).
func (t *Tokens) mac(body []byte, session, host string) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write(body)
	m.Write([]byte(session))
	m.Write([]byte{0})
	m.Write([]byte(host))
	return m.Sum(nil)[:16]
}

// Issue makes a token for the user's voice connection in the guild, at
// the voice server of node host.
func (t *Tokens) Issue(guildID, userID uint64, session, host string) string {
	b := make([]byte, tokenBody, tokenBody+16)
	binary.BigEndian.PutUint64(b[0:], guildID)
	binary.BigEndian.PutUint64(b[8:], userID)
	binary.BigEndian.PutUint64(b[16:], uint64(t.now().Add(t.ttl).Unix()))
	_, _ = rand.Read(b[24:32])
	return base64.RawURLEncoding.EncodeToString(append(b, t.mac(b, session, host)...))
}

// Check verifies a token for the guild, user and session at node host
// (the one checking) and, when it is good, uses it up. It returns
// ErrTokenInvalid for a token not made for them, ErrTokenExpired, or
// ErrTokenReused.
func (t *Tokens) Check(token string, guildID, userID uint64, session, host string) error {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != tokenBody+16 {
		return ErrTokenInvalid
	}
	body := raw[:tokenBody]
	if !hmac.Equal(raw[tokenBody:], t.mac(body, session, host)) ||
		binary.BigEndian.Uint64(body[0:]) != guildID || binary.BigEndian.Uint64(body[8:]) != userID {
		return ErrTokenInvalid
	}
	now := t.now()
	exp := time.Unix(int64(binary.BigEndian.Uint64(body[16:])), 0)
	if !now.Before(exp) {
		return ErrTokenExpired
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.used[token]; ok {
		return ErrTokenReused
	}
	if len(t.used) > 1024 {
		for k, e := range t.used {
			if !now.Before(e) {
				delete(t.used, k)
			}
		}
	}
	t.used[token] = exp
	return nil
}
