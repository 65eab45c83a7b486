package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultSweepInterval is how often Run evicts expired buckets when given
// no interval. Memory is bounded by the buckets touched within one window
// plus this interval, so it is kept short compared with typical windows.
const DefaultSweepInterval = 10 * time.Second

// maxRouteCache caps the route templates remembered beyond Config.Routes;
// a caller passing concrete paths by mistake must not grow memory forever.
const maxRouteCache = 4096

// Limiter enforces a Config. It is safe for concurrent use.
type Limiter struct {
	enabled bool
	global  Rule
	dflt    Rule

	now   func() time.Time
	epoch time.Time // offsets from it use the monotonic clock when now has one

	routes   atomic.Pointer[map[string]*routeInfo]
	routesMu sync.Mutex // serialises copy-on-write additions to routes

	globals table // keyed by identity only
	buckets table // keyed by (identity, route, major)
}

// routeInfo is resolved once per route template so that Allow neither
// hashes nor allocates for it.
type routeInfo struct {
	name string // stable copy of the template, used in bucket keys
	hash string // X-RateLimit-Bucket
	rule Rule
}

// New returns a Limiter for cfg, or cfg's validation error. now is the
// clock (nil means time.Now); tests inject a fake one.
func New(cfg Config, now func() time.Time) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	l := &Limiter{
		enabled: cfg.Enabled,
		global:  cfg.Global,
		dflt:    cfg.Default,
		now:     now,
		epoch:   now(),
	}
	m := make(map[string]*routeInfo, len(cfg.Routes))
	for route, rule := range cfg.Routes {
		m[route] = &routeInfo{name: route, hash: BucketHash(route), rule: rule}
	}
	l.routes.Store(&m)
	l.globals.init()
	l.buckets.init()
	return l, nil
}

// BucketHash is the X-RateLimit-Bucket value for a route template: a
// deterministic, opaque 32-hex-digit string shaped like Discord's, the same
// for every identity and every major parameter, and stable across restarts
// and nodes so clients never see a bucket change identity.
func BucketHash(route string) string {
	sum := sha256.Sum256([]byte(route))
	return hex.EncodeToString(sum[:16])
}

// Major returns the top-level resource ID of a request routed by
// http.ServeMux with Discord's parameter names: channel_id, guild_id or
// webhook_id, in that order, or "" if the route has none.
func Major(r *http.Request) string {
	for _, name := range [...]string{"channel_id", "guild_id", "webhook_id"} {
		if v := r.PathValue(name); v != "" {
			return v
		}
	}
	return ""
}

// Allow spends one request of identity's quota on route (a template, see
// the package doc) for the top-level resource major, and reports whether the
// request may proceed along with what to tell the client.
func (l *Limiter) Allow(identity, route, major string) Decision {
	if !l.enabled {
		return Decision{Allowed: true}
	}
	wall := l.now()
	now := int64(wall.Sub(l.epoch))

	// The global limit is checked first so that a globally limited client
	// gets the global 429 Discord documents, whichever route it called.
	var gk bucketKey
	var greset int64
	if !l.global.Unlimited() {
		gk = bucketKey{identity: identity}
		rem, reset, ok := l.globals.take(gk, l.global, now)
		if !ok {
			return decision(wall, now, l.global, rem, reset, "", false, scopeGlobal)
		}
		greset = reset
	}

	ri := l.route(route)
	if ri.rule.Unlimited() {
		return Decision{Allowed: true}
	}
	k := bucketKey{identity: identity, route: ri.name, major: major}
	rem, reset, ok := l.buckets.take(k, ri.rule, now)
	if !ok {
		// Holding both locks at once would serialise unrelated shards, so the
		// global slot is given back afterwards. A request racing with the
		// refund may be refused by the global limit; it can never over-admit.
		if !l.global.Unlimited() {
			l.globals.refund(gk, greset)
		}
		return decision(wall, now, ri.rule, rem, reset, ri.hash, false, scopeUser)
	}
	return decision(wall, now, ri.rule, rem, reset, ri.hash, true, "")
}

func decision(wall time.Time, now int64, r Rule, remaining int, reset int64, bucket string, allowed bool, scope string) Decision {
	after := time.Duration(reset - now)
	return Decision{
		Allowed:    allowed,
		Limit:      r.Limit,
		Remaining:  remaining,
		Reset:      wall.Add(after),
		ResetAfter: after,
		Bucket:     bucket,
		Global:     scope == scopeGlobal,
		Scope:      scope,
	}
}

func (l *Limiter) route(route string) *routeInfo {
	if ri, ok := (*l.routes.Load())[route]; ok {
		return ri
	}
	ri := &routeInfo{name: strings.Clone(route), hash: BucketHash(route), rule: l.dflt}
	l.routesMu.Lock()
	defer l.routesMu.Unlock()
	old := *l.routes.Load()
	if cur, ok := old[route]; ok {
		return cur // added by a concurrent caller
	}
	if len(old) >= maxRouteCache {
		return ri
	}
	// Copy-on-write keeps the read path to one atomic load and a map lookup;
	// additions are rare because route templates are a small fixed set.
	m := make(map[string]*routeInfo, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[ri.name] = ri
	l.routes.Store(&m)
	return ri
}

// Sweep evicts buckets whose window has ended and returns how many it
// evicted. An ended bucket behaves exactly like a missing one, so this
// changes no decision.
func (l *Limiter) Sweep() int {
	if !l.enabled {
		return 0
	}
	now := int64(l.now().Sub(l.epoch))
	return l.globals.sweep(now) + l.buckets.sweep(now)
}

// Len returns the number of live buckets, global ones included.
func (l *Limiter) Len() int { return l.globals.len() + l.buckets.len() }

// Run calls Sweep every interval (DefaultSweepInterval if interval <= 0)
// until ctx is done, then returns. Start it with go and cancel ctx on
// shutdown; it holds no other resources.
func (l *Limiter) Run(ctx context.Context, interval time.Duration) {
	if !l.enabled {
		return
	}
	if interval <= 0 {
		interval = DefaultSweepInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.Sweep()
		}
	}
}

// bucketKey is a struct of strings rather than one concatenated string so
// that looking up an existing bucket allocates nothing.
type bucketKey struct {
	identity, route, major string
}

type bucket struct {
	reset     int64 // end of the current window, ns since Limiter.epoch
	remaining int
}

// shardCount spreads lock contention: with 64 independent mutexes two
// cores almost never wait for each other.
const shardCount = 64

type table struct {
	shards [shardCount]shard
}

type shard struct {
	mu sync.Mutex
	m  map[bucketKey]*bucket
	// Pad to a cache line so that neighbouring shards' mutexes do not
	// false-share.
	_ [64 - 16]byte
}

func (t *table) init() {
	for i := range t.shards {
		t.shards[i].m = make(map[bucketKey]*bucket)
	}
}

// shard picks a shard by FNV-1a over the key. Go maps seed their own hash,
// so a predictable shard choice can at worst make one mutex busier.
func (t *table) shard(k *bucketKey) *shard {
	h := uint32(2166136261)
	for _, s := range [...]string{k.identity, k.route, k.major} {
		for i := 0; i < len(s); i++ {
			h ^= uint32(s[i])
			h *= 16777619
		}
		h ^= 0xff // separator: ("ab","c") and ("a","bc") differ
		h *= 16777619
	}
	return &t.shards[h%shardCount]
}

// take spends one request from k's bucket under rule r at time now. It
// returns the remaining count and the window end, and false if the bucket
// is exhausted (in which case nothing is spent).
func (t *table) take(k bucketKey, r Rule, now int64) (remaining int, reset int64, ok bool) {
	s := t.shard(&k)
	s.mu.Lock()
	b := s.m[k]
	if b == nil {
		// Clone so the map never pins the caller's memory (major is usually
		// a slice of the request URL).
		k = bucketKey{strings.Clone(k.identity), strings.Clone(k.route), strings.Clone(k.major)}
		b = &bucket{}
		s.m[k] = b
	}
	// A window further away than its length means the injected clock went
	// backwards; starting afresh is better than locking the client out.
	if now >= b.reset || b.reset-now > int64(r.Window) {
		b.reset = now + int64(r.Window)
		b.remaining = r.Limit
	}
	if b.remaining == 0 {
		reset = b.reset
		s.mu.Unlock()
		return 0, reset, false
	}
	b.remaining--
	remaining, reset = b.remaining, b.reset
	s.mu.Unlock()
	return remaining, reset, true
}

// refund returns a request spent by take, unless its window has since
// rolled over (the new window never saw it).
func (t *table) refund(k bucketKey, reset int64) {
	s := t.shard(&k)
	s.mu.Lock()
	if b := s.m[k]; b != nil && b.reset == reset {
		b.remaining++
	}
	s.mu.Unlock()
}

func (t *table) sweep(now int64) int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, b := range s.m {
			if now >= b.reset {
				delete(s.m, k)
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

func (t *table) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
