// Package rest serves Discord's REST API v10 (and v9, which differs only in
// path) over HTTP: routing, authentication, rate limits, request decoding
// with Discord's error format, and rendering of model values into Discord's
// objects.
//
// Handlers parse and render; every decision about state — permissions,
// limits, what changes — is the guild engine's. A handler never writes to
// the store directly.
package rest
