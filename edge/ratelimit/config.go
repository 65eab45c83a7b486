package ratelimit

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Rule allows Limit requests per Window. The zero Rule means "no limit at
// this level": Discord has routes with no endpoint-specific limit, where
// only the global one applies and no route headers are sent.
type Rule struct {
	Limit  int
	Window time.Duration
}

// Unlimited reports whether r imposes no limit.
func (r Rule) Unlimited() bool { return r.Limit == 0 }

func (r Rule) validate() error {
	switch {
	case r.Limit == 0 && r.Window == 0:
		return nil
	case r.Limit < 0:
		return fmt.Errorf("limit %d is negative", r.Limit)
	case r.Limit == 0:
		// A window without a limit is almost certainly a typo for a real rule.
		return fmt.Errorf("window %v given with limit 0 (use the zero Rule for no limit)", r.Window)
	case r.Window < time.Millisecond:
		// The headers carry millisecond precision; a shorter window could not
		// be described to clients.
		return fmt.Errorf("window %v is shorter than 1ms", r.Window)
	}
	return nil
}

// Config selects the limits. Route keys are route templates,
// "METHOD /path/{param}", matched exactly against the route passed to
// Limiter.Allow.
type Config struct {
	Enabled bool
	Global  Rule            // per identity, across all routes
	Default Rule            // per-route rule for routes not in Routes
	Routes  map[string]Rule // per-route overrides
}

// DefaultConfig returns Discord-like limits. Discord documents only the
// global limit and a few special cases and says the rest may change at any
// time; the per-route numbers below are what its API has been observed to
// report, so well-behaved bots written against Discord pace themselves the
// same way here. Each entry notes its source.
func DefaultConfig() Config {
	return Config{
		Enabled: true,
		// Documented: "All bots can make up to 50 requests per second to our
		// API" (topics/rate-limits, Global Rate Limit).
		Global: Rule{50, time.Second},
		// Accord's choice. Discord gives routes without their own limit only the
		// global one and no route headers; a per-route bucket at the global
		// rate changes little for a client (one route cannot go faster than the
		// global limit allows anyway) but gives every response headers that
		// libraries can pace on.
		Default: Rule{50, time.Second},
		Routes: map[string]Rule{
			// Observed: 5 per 5 s per channel, the limit every library documents
			// for sending messages; edits have been reported at the same rate.
			"POST /channels/{channel_id}/messages":               {5, 5 * time.Second},
			"PATCH /channels/{channel_id}/messages/{message_id}": {5, 5 * time.Second},
			// Documented as "a separate, higher rate limit" than other message
			// routes so moderation bots can clean up quickly (older revisions of
			// topics/rate-limits); observed as 5 per 1 s per channel.
			"DELETE /channels/{channel_id}/messages/{message_id}": {5, time.Second},
			// Observed: 1 per 1 s per channel.
			"POST /channels/{channel_id}/messages/bulk-delete": {1, time.Second},
			// Observed: 1 per 250 ms. Discord's own headers advertise 1/1 s
			// (discord-api-docs#182: "sub-second rate limits are rare (only this
			// endpoint)"); here the headers tell the truth instead.
			"PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me":    {1, 250 * time.Millisecond},
			"DELETE /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me": {1, 250 * time.Millisecond},
			// Observed: 10 per 15 s for channel edits (discord-api-docs#2208).
			// Discord additionally limits name/topic changes to 2 per 10 min;
			// that depends on the body, which this package does not see.
			"PATCH /channels/{channel_id}": {10, 15 * time.Second},
			// Observed: 10 per 10 s per guild for member edits and role
			// grants/removals, 5 per 1 s for kicks (community-reported headers).
			"PATCH /guilds/{guild_id}/members/{user_id}":                  {10, 10 * time.Second},
			"PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}":    {10, 10 * time.Second},
			"DELETE /guilds/{guild_id}/members/{user_id}/roles/{role_id}": {10, 10 * time.Second},
			"DELETE /guilds/{guild_id}/members/{user_id}":                 {5, time.Second},
			// Stated by a Discord engineer: webhook execution "should be
			// reporting 5/2" per webhook (discord-api-docs#367).
			"POST /webhooks/{webhook_id}/{webhook_token}": {5, 2 * time.Second},
			// Documented: "a global rate limit of 200 application command
			// creates per day, per guild" (interactions/application-commands).
			"POST /applications/{application_id}/guilds/{guild_id}/commands": {200, 24 * time.Hour},
		},
	}
}

// Validate reports every malformed rule or route key. A disabled Config is
// validated too, so a bad file is caught before someone turns limits on.
func (c Config) Validate() error {
	var errs []error
	if err := c.Global.validate(); err != nil {
		errs = append(errs, fmt.Errorf("ratelimit: global: %w", err))
	}
	if err := c.Default.validate(); err != nil {
		errs = append(errs, fmt.Errorf("ratelimit: default: %w", err))
	}
	for _, route := range slices.Sorted(maps.Keys(c.Routes)) {
		if err := validRoute(route); err != nil {
			errs = append(errs, fmt.Errorf("ratelimit: route %q: %w", route, err))
			continue
		}
		if err := c.Routes[route].validate(); err != nil {
			errs = append(errs, fmt.Errorf("ratelimit: route %q: %w", route, err))
		}
	}
	return errors.Join(errs...)
}

// validRoute checks the "METHOD /path" shape so that a key which could
// never match a template (a missing method, a concrete URL) is rejected
// rather than silently ignored.
func validRoute(route string) error {
	method, path, ok := strings.Cut(route, " ")
	if !ok || method == "" {
		return errors.New(`want "METHOD /path"`)
	}
	for _, c := range method {
		if c < 'A' || c > 'Z' {
			return fmt.Errorf("method %q is not upper-case letters", method)
		}
	}
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("path %q does not start with /", path)
	}
	if strings.ContainsAny(path, " \t\r\n?#") {
		return fmt.Errorf("path %q contains whitespace, a query or a fragment", path)
	}
	return nil
}
