package ratelimit

import (
	"net/http"
	"strconv"
	"time"
)

// Values of Decision.Scope and X-RateLimit-Scope. Discord also has
// "shared" for per-resource limits common to all users, which Accord does
// not impose.
const (
	scopeUser   = "user"
	scopeGlobal = "global"
)

// Header names in Go's canonical form: HTTP header names are
// case-insensitive, and using the canonical spelling lets http.Header.Get
// find them without re-canonicalising on every request.
const (
	hLimit      = "X-Ratelimit-Limit"
	hRemaining  = "X-Ratelimit-Remaining"
	hReset      = "X-Ratelimit-Reset"
	hResetAfter = "X-Ratelimit-Reset-After"
	hBucket     = "X-Ratelimit-Bucket"
	hGlobal     = "X-Ratelimit-Global"
	hScope      = "X-Ratelimit-Scope"
	hRetryAfter = "Retry-After"
)

// Decision is the outcome of Limiter.Allow. For an allowed request it
// describes the route bucket (Limit 0 when the route has no limit of its
// own); for a refused one, the bucket that refused it.
type Decision struct {
	Allowed    bool
	Limit      int           // requests per window
	Remaining  int           // requests left in the current window
	Reset      time.Time     // wall-clock end of the current window
	ResetAfter time.Duration // time until Reset
	Bucket     string        // X-RateLimit-Bucket; "" for the global limit
	Global     bool          // refused by the global limit
	Scope      string        // on refusal: "user" or "global"; else ""
}

// WriteHeaders sets the rate limit headers Discord sends. Nothing is
// written for a request that met no limit (limits disabled, or a route
// without its own limit), matching Discord's routes that only have the
// global limit. On a global 429 only Retry-After, X-RateLimit-Global and
// X-RateLimit-Scope are set, as in Discord's documented example: the route
// headers would describe a bucket the client did not exhaust.
func (d Decision) WriteHeaders(h http.Header) {
	if d.Allowed && d.Limit == 0 {
		return
	}
	// One backing array for all values instead of one slice per header.
	vals := make([]string, 0, 8)
	set := func(k, v string) {
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	after := ceilMillis(d.ResetAfter)
	if !d.Allowed {
		set(hRetryAfter, strconv.FormatInt((after+999)/1000, 10))
		set(hScope, d.Scope)
		if d.Global {
			set(hGlobal, "true")
			return
		}
	}
	set(hLimit, strconv.Itoa(d.Limit))
	set(hRemaining, strconv.Itoa(d.Remaining))
	set(hReset, seconds((d.Reset.UnixNano()+999_999)/1_000_000))
	set(hResetAfter, seconds(after))
	set(hBucket, d.Bucket)
}

// Body returns the JSON body of a 429 response, or nil if the request was
// allowed: {"message":"You are being rate limited.","retry_after":1.234,
// "global":false}. retry_after is in seconds with millisecond precision,
// rounded up so that retrying exactly then succeeds. Discord's optional
// "code" is omitted: it is only sent for special limits Accord does not have.
func (d Decision) Body() []byte {
	if d.Allowed {
		return nil
	}
	b := make([]byte, 0, 96)
	b = append(b, `{"message":"You are being rate limited.","retry_after":`...)
	b = appendSeconds(b, ceilMillis(d.ResetAfter))
	b = append(b, `,"global":`...)
	b = strconv.AppendBool(b, d.Global)
	b = append(b, '}')
	return b
}

// ceilMillis rounds up: advertising a reset even 1 ns early would make a
// client that trusts it collect a 429 it could not have avoided.
func ceilMillis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

func seconds(ms int64) string { return string(appendSeconds(make([]byte, 0, 24), ms)) }

// appendSeconds formats ms as seconds with exactly three decimals, the
// precision of Discord's X-RateLimit-Reset(-After) values.
func appendSeconds(b []byte, ms int64) []byte {
	if ms < 0 {
		ms = 0
	}
	b = strconv.AppendInt(b, ms/1000, 10)
	frac := ms % 1000
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}
