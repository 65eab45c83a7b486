// Package secret makes and checks credentials: bcrypt password hashes and
// random API tokens, of which only a SHA-256 digest is ever stored.
//
// Tokens look like Discord's (three dot-separated base64url parts: the user
// ID, a timestamp, random bytes) so client libraries that peek at them keep
// working, but nothing is derived from their content: a token is valid only
// while its digest is in the store.
//
// The package is pure computation: it never looks anything up (edge/auth
// resolves presented tokens against the store) and never logs a secret.
package secret
