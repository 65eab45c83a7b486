// Package auth resolves the credentials a client presents: it parses
// Discord's Authorization header (bare user tokens, "Bot <token>") and
// verifies tokens against the store through a cache of their digests, so
// the hot path of every request is one SHA-256 and a map lookup.
//
// Making credentials (password hashes, new tokens) is core/secret's.
package auth
