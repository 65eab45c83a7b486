package turn

import (
	"crypto/hmac"
	"crypto/sha1" // #nosec: the TURN REST scheme is HMAC-SHA1, as coturn and browsers expect
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Credential is what a client puts in its RTCIceServer: the username
// carries its own expiry, so any TURN server holding the secret checks
// it without asking anyone.
type Credential struct {
	Username string    `json:"username"`
	Password string    `json:"credential"`
	Expires  time.Time `json:"-"`
}

// Issue makes a credential for userID valid until now+ttl.
func Issue(secret []byte, userID string, now time.Time, ttl time.Duration) Credential {
	exp := now.Add(ttl).Truncate(time.Second)
	name := strconv.FormatInt(exp.Unix(), 10) + ":" + userID
	return Credential{Username: name, Password: password(secret, name), Expires: exp}
}

func password(secret []byte, username string) string {
	m := hmac.New(sha1.New, secret)
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Errors of Check, for logs and metrics.
var (
	ErrMalformed = errors.New("turn: username is not expiry:user")
	ErrExpired   = errors.New("turn: credential expired")
)

// Check parses a REST-scheme username and returns its user and the
// password it must come with. The password itself is checked by the
// STUN message integrity, which is keyed by it.
func Check(secret []byte, username string, now time.Time) (user, pass string, err error) {
	exp, user, ok := strings.Cut(username, ":")
	if !ok || user == "" || len(exp) > 19 {
		return "", "", ErrMalformed
	}
	at, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || at <= 0 {
		return "", "", ErrMalformed
	}
	if now.Unix() >= at {
		return "", "", ErrExpired
	}
	return user, password(secret, username), nil
}
