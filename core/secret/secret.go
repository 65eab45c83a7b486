package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/accord-chat/accord/core/snowflake"
)

// ErrBadCredentials is returned for a wrong login or password.
var ErrBadCredentials = errors.New("invalid login or password")

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
