// Package ratelimit implements Discord's REST rate limiting (API v10) for
// Accord: per-route fixed-window buckets plus a global per-token limit, the
// X-RateLimit-* response headers and the 429 JSON body.
//
// The reference is https://discord.com/developers/docs/topics/rate-limits
// (discord/discord-api-docs, developers/topics/rate-limits.mdx, as of 2026).
// Client libraries (discord.js, discord.py, JDA, …) pace themselves from the
// headers rather than from hard-coded numbers, so what matters for
// compatibility is that the headers are present, consistent with each other
// and honest: a client that waits X-RateLimit-Reset-After must not get a 429.
//
// # Model
//
// A request is identified by three strings supplied by the caller:
//
//   - identity: whose quota is spent — the authenticated user or bot ID, or
//     the client IP for unauthenticated requests (Discord does the same).
//   - route: the route template, "METHOD /path/{param}", e.g.
//     "POST /channels/{channel_id}/messages". It must be the template, never
//     the concrete path, and it must be spelled like the keys of
//     Config.Routes (no /api/v10 prefix). Discord keys buckets on the method
//     too for some routes; keying on it everywhere is the simple superset.
//   - major: the value of the route's top-level resource (channel_id,
//     guild_id or webhook_id), or "" when it has none; see Major.
//
// Each (identity, route, major) triple has its own bucket allowing
// Rule.Limit requests per Rule.Window; the window starts with the first
// request and capacity is restored all at once when it ends, which is what
// Discord's single Reset value per bucket describes. Independently, each
// identity has one global bucket (Discord: 50 requests per second per bot).
//
// X-RateLimit-Bucket is derived from the route template alone, so every
// identity and every channel sees the same opaque hash for the same route,
// as on Discord where the hash is "non-inclusive of top-level resources".
//
// Only allowed requests spend quota: a request refused by either limit
// consumes nothing, so a client that retries in a tight loop does not push
// its own reset further out.
//
// # Usage
//
//	d := lim.Allow(userID, "POST /channels/{channel_id}/messages", ratelimit.Major(r))
//	d.WriteHeaders(w.Header())
//	if !d.Allowed {
//		w.Header().Set("Content-Type", "application/json")
//		w.WriteHeader(http.StatusTooManyRequests)
//		w.Write(d.Body())
//		return
//	}
//
// Buckets whose window has ended hold no information (a fresh bucket would
// look the same), so Run evicts them periodically; memory is then bounded by
// the number of distinct triples used within one window.
//
// With Config.Enabled false (the --rate-limits off switch for load tests)
// Allow always allows and writes no headers, and nothing is stored.
package ratelimit
