package ratelimit

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accord-chat/accord/internal/accordtest"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// Reset values in the headers are checked literally, so the clock starts
// at a known instant with a millisecond fraction.
func newClock() *fakeClock { return &fakeClock{t: time.Unix(1470173023, 123e6)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func mustNew(t testing.TB, cfg Config, clk *fakeClock) *Limiter {
	t.Helper()
	l, err := New(cfg, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

const (
	postMsg  = "POST /channels/{channel_id}/messages"
	delMsg   = "DELETE /channels/{channel_id}/messages/{message_id}"
	getGuild = "GET /guilds/{guild_id}"
)

func TestAllowBuckets(t *testing.T) {
	type req struct {
		advance   time.Duration
		identity  string
		route     string
		major     string
		allowed   bool
		remaining int
	}
	cfg := Config{
		Enabled: true,
		Default: Rule{3, time.Second},
		Routes: map[string]Rule{
			postMsg: {2, 5 * time.Second},
			delMsg:  {5, time.Second},
		},
	}
	tests := []struct {
		name string
		reqs []req
	}{
		{"limit per route", []req{
			{0, "u1", postMsg, "c1", true, 1},
			{0, "u1", postMsg, "c1", true, 0},
			{0, "u1", postMsg, "c1", false, 0},
		}},
		{"same route in two channels is two buckets", []req{
			{0, "u1", postMsg, "c1", true, 1},
			{0, "u1", postMsg, "c1", true, 0},
			{0, "u1", postMsg, "c2", true, 1},
			{0, "u1", postMsg, "c1", false, 0},
			{0, "u1", postMsg, "c2", true, 0},
		}},
		{"routes are independent", []req{
			{0, "u1", postMsg, "c1", true, 1},
			{0, "u1", postMsg, "c1", true, 0},
			{0, "u1", delMsg, "c1", true, 4},
			{0, "u1", getGuild, "g1", true, 2},
		}},
		{"identities are independent", []req{
			{0, "u1", postMsg, "c1", true, 1},
			{0, "u1", postMsg, "c1", true, 0},
			{0, "u2", postMsg, "c1", true, 1},
		}},
		{"unlisted routes use the default rule", []req{
			{0, "u1", getGuild, "g1", true, 2},
			{0, "u1", getGuild, "g1", true, 1},
			{0, "u1", getGuild, "g1", true, 0},
			{0, "u1", getGuild, "g1", false, 0},
			{0, "u1", "GET /users/@me", "", true, 2},
		}},
		{"window reset restores capacity", []req{
			{0, "u1", postMsg, "c1", true, 1},
			{time.Second, "u1", postMsg, "c1", true, 0},
			{time.Second, "u1", postMsg, "c1", false, 0},
			{3*time.Second - time.Nanosecond, "u1", postMsg, "c1", false, 0},
			{time.Nanosecond, "u1", postMsg, "c1", true, 1},
		}},
		{"refused requests do not extend the window", []req{
			{0, "u1", postMsg, "c1", true, 1},
			{0, "u1", postMsg, "c1", true, 0},
			{4 * time.Second, "u1", postMsg, "c1", false, 0},
			{time.Second, "u1", postMsg, "c1", true, 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			l := mustNew(t, cfg, clk)
			for i, r := range tt.reqs {
				clk.Advance(r.advance)
				d := l.Allow(r.identity, r.route, r.major)
				if d.Allowed != r.allowed || d.Remaining != r.remaining {
					t.Fatalf("request %d (%s %s %s): allowed=%v remaining=%d, want %v %d",
						i, r.identity, r.route, r.major, d.Allowed, d.Remaining, r.allowed, r.remaining)
				}
				if !d.Allowed && (d.Scope != "user" || d.Global) {
					t.Fatalf("request %d: scope %q global %v, want user false", i, d.Scope, d.Global)
				}
			}
		})
	}
}

func TestGlobalLimit(t *testing.T) {
	clk := newClock()
	l := mustNew(t, Config{
		Enabled: true,
		Global:  Rule{3, time.Second},
		Default: Rule{100, time.Second},
		Routes:  map[string]Rule{postMsg: {1, 5 * time.Second}},
	}, clk)

	// The global limit spans routes and major parameters.
	for i, r := range []struct{ route, major string }{{getGuild, "g1"}, {getGuild, "g2"}, {delMsg, "c1"}} {
		if d := l.Allow("bot", r.route, r.major); !d.Allowed {
			t.Fatalf("request %d refused: %+v", i, d)
		}
	}
	d := l.Allow("bot", "GET /users/@me", "")
	if d.Allowed || !d.Global || d.Scope != "global" || d.Limit != 3 || d.Bucket != "" {
		t.Fatalf("4th request: %+v, want global refusal", d)
	}
	if d.ResetAfter != time.Second {
		t.Fatalf("ResetAfter %v, want 1s", d.ResetAfter)
	}
	// Another identity is unaffected.
	if d := l.Allow("other", getGuild, "g1"); !d.Allowed {
		t.Fatalf("other identity refused: %+v", d)
	}

	clk.Advance(time.Second)
	// A request refused by its route must not spend global quota.
	if d := l.Allow("bot", postMsg, "c1"); !d.Allowed {
		t.Fatalf("after reset: %+v", d)
	}
	for range 5 {
		if d := l.Allow("bot", postMsg, "c1"); d.Allowed || d.Global {
			t.Fatalf("route-limited request: %+v", d)
		}
	}
	for i := range 2 {
		if d := l.Allow("bot", getGuild, "g1"); !d.Allowed {
			t.Fatalf("global quota was spent by refused requests (request %d): %+v", i, d)
		}
	}
	if d := l.Allow("bot", getGuild, "g1"); !d.Global {
		t.Fatalf("want global refusal, got %+v", d)
	}
}

func TestHeaders(t *testing.T) {
	clk := newClock()
	l := mustNew(t, Config{
		Enabled: true,
		Global:  Rule{4, time.Second},
		Default: Rule{10, time.Second},
		Routes:  map[string]Rule{postMsg: {2, 5 * time.Second}},
	}, clk)
	bucket := BucketHash(postMsg)

	headers := func(d Decision) http.Header {
		h := http.Header{}
		d.WriteHeaders(h)
		return h
	}
	check := func(step string, h http.Header, want map[string]string) {
		t.Helper()
		for k, v := range want {
			got, ok := h[http.CanonicalHeaderKey(k)]
			if v == "" {
				if ok {
					t.Errorf("%s: %s = %q, want absent", step, k, got)
				}
				continue
			}
			if h.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", step, k, h.Get(k), v)
			}
		}
	}

	h := headers(l.Allow("u", postMsg, "c1"))
	check("first", h, map[string]string{
		"X-RateLimit-Limit":       "2",
		"X-RateLimit-Remaining":   "1",
		"X-RateLimit-Reset":       "1470173028.123",
		"X-RateLimit-Reset-After": "5.000",
		"X-RateLimit-Bucket":      bucket,
		"X-RateLimit-Scope":       "",
		"X-RateLimit-Global":      "",
		"Retry-After":             "",
	})

	clk.Advance(1234567 * time.Microsecond) // 1.234567s
	h = headers(l.Allow("u", postMsg, "c2"))
	check("other channel", h, map[string]string{
		"X-RateLimit-Remaining":   "1",
		"X-RateLimit-Reset":       "1470173029.358", // 28.357567 rounded up
		"X-RateLimit-Reset-After": "5.000",
		"X-RateLimit-Bucket":      bucket, // the bucket hash ignores the major parameter
	})

	l.Allow("u", postMsg, "c1")
	d := l.Allow("u", postMsg, "c1")
	h = headers(d)
	check("route 429", h, map[string]string{
		"X-RateLimit-Limit":       "2",
		"X-RateLimit-Remaining":   "0",
		"X-RateLimit-Reset":       "1470173028.123",
		"X-RateLimit-Reset-After": "3.766", // 5 - 1.234567 = 3.765433, rounded up
		"X-RateLimit-Bucket":      bucket,
		"X-RateLimit-Scope":       "user",
		"X-RateLimit-Global":      "",
		"Retry-After":             "4",
	})

	// Two requests were spent in this global window (the refused one was
	// refunded); two more exhaust it.
	for i := range 2 {
		if d := l.Allow("u", getGuild, "g1"); !d.Allowed {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	d = l.Allow("u", getGuild, "g1")
	h = headers(d)
	check("global 429", h, map[string]string{
		"X-RateLimit-Global":      "true",
		"X-RateLimit-Scope":       "global",
		"Retry-After":             "1",
		"X-RateLimit-Limit":       "",
		"X-RateLimit-Remaining":   "",
		"X-RateLimit-Reset":       "",
		"X-RateLimit-Reset-After": "",
		"X-RateLimit-Bucket":      "",
	})

	// Appending to one header must not clobber another sharing its array.
	h = headers(l.Allow("v", postMsg, "c1"))
	h.Add("X-RateLimit-Limit", "x")
	if h.Get("X-RateLimit-Remaining") != "1" {
		t.Fatalf("headers share storage: %v", h)
	}
}

func TestHeadersUnlimitedRoute(t *testing.T) {
	clk := newClock()
	l := mustNew(t, Config{Enabled: true, Global: Rule{50, time.Second}}, clk)
	d := l.Allow("u", getGuild, "g1")
	h := http.Header{}
	d.WriteHeaders(h)
	if !d.Allowed || len(h) != 0 {
		t.Fatalf("route without its own limit: %+v, headers %v", d, h)
	}
}

func TestBody(t *testing.T) {
	tests := []struct {
		name string
		d    Decision
		want string
	}{
		{"route", Decision{ResetAfter: 1234 * time.Millisecond, Scope: "user"},
			`{"message":"You are being rate limited.","retry_after":1.234,"global":false}`},
		{"global rounds up", Decision{ResetAfter: 64569001 * time.Microsecond, Global: true, Scope: "global"},
			`{"message":"You are being rate limited.","retry_after":64.570,"global":true}`},
		{"sub-millisecond", Decision{ResetAfter: time.Nanosecond, Scope: "user"},
			`{"message":"You are being rate limited.","retry_after":0.001,"global":false}`},
		{"allowed", Decision{Allowed: true}, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.d.Body()
			if string(got) != tt.want {
				t.Fatalf("Body() = %s, want %s", got, tt.want)
			}
			if tt.d.Allowed {
				return
			}
			var v struct {
				Message    *string  `json:"message"`
				RetryAfter *float64 `json:"retry_after"`
				Global     *bool    `json:"global"`
			}
			dec := json.NewDecoder(strings.NewReader(string(got)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			if v.Message == nil || v.RetryAfter == nil || v.Global == nil || *v.Global != tt.d.Global {
				t.Fatalf("decoded %+v", v)
			}
			// Retry-After is the body's value rounded up to whole seconds.
			h := http.Header{}
			tt.d.WriteHeaders(h)
			want := fmt.Sprint(math.Ceil(*v.RetryAfter))
			if h.Get("Retry-After") != want {
				t.Fatalf("Retry-After %q, want %q", h.Get("Retry-After"), want)
			}
		})
	}
}

// A client that waits exactly the advertised time must get through.
func TestAdvertisedResetIsHonest(t *testing.T) {
	clk := newClock()
	l := mustNew(t, Config{Enabled: true, Default: Rule{1, 250 * time.Millisecond}}, clk)
	l.Allow("u", "PUT /r", "")
	clk.Advance(100*time.Millisecond + 400*time.Microsecond)
	d := l.Allow("u", "PUT /r", "")
	if d.Allowed {
		t.Fatal("second request allowed")
	}
	var v struct {
		RetryAfter float64 `json:"retry_after"`
	}
	if err := json.Unmarshal(d.Body(), &v); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Duration(math.Round(v.RetryAfter*1000)) * time.Millisecond)
	if d := l.Allow("u", "PUT /r", ""); !d.Allowed {
		t.Fatalf("refused after waiting retry_after=%v: %+v", v.RetryAfter, d)
	}
}

func TestDisabled(t *testing.T) {
	for _, cfg := range []Config{{}, func() Config { c := DefaultConfig(); c.Enabled = false; return c }()} {
		clk := newClock()
		l := mustNew(t, cfg, clk)
		for range 1000 {
			d := l.Allow("u", postMsg, "c1")
			h := http.Header{}
			d.WriteHeaders(h)
			if !d.Allowed || len(h) != 0 || d.Body() != nil {
				t.Fatalf("disabled: %+v headers %v", d, h)
			}
		}
		if l.Len() != 0 || l.Sweep() != 0 {
			t.Fatalf("disabled limiter stored %d buckets", l.Len())
		}
		ctx, cancel := context.WithCancel(context.Background())
		l.Run(ctx, time.Millisecond) // must return at once
		cancel()
	}
}

func TestValidate(t *testing.T) {
	ok := Rule{1, time.Second}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "" means valid
	}{
		{"default config", DefaultConfig(), ""},
		{"zero config", Config{}, ""},
		{"unlimited rules", Config{Enabled: true, Routes: map[string]Rule{postMsg: {}}}, ""},
		{"negative global", Config{Global: Rule{-1, time.Second}}, "global: limit -1 is negative"},
		{"default window without limit", Config{Default: Rule{0, time.Second}}, "default: window 1s given with limit 0"},
		{"limit without window", Config{Global: Rule{5, 0}}, "global: window 0s is shorter than 1ms"},
		{"sub-millisecond window", Config{Default: Rule{5, time.Microsecond}}, "shorter than 1ms"},
		{"route without method", Config{Routes: map[string]Rule{"/channels/{channel_id}": ok}}, `want "METHOD /path"`},
		{"lower-case method", Config{Routes: map[string]Rule{"post /channels": ok}}, "not upper-case"},
		{"relative path", Config{Routes: map[string]Rule{"GET channels": ok}}, "does not start with /"},
		{"concrete URL with query", Config{Routes: map[string]Rule{"GET /channels/1?limit=5": ok}}, "query"},
		{"bad route rule", Config{Routes: map[string]Rule{postMsg: {-5, time.Second}}}, `route "POST /channels/{channel_id}/messages": limit -5`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if _, err := New(tt.cfg, nil); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}

	// Every problem is reported, not just the first.
	err := Config{Global: Rule{-1, 0}, Routes: map[string]Rule{"x": ok, "GET y": ok}}.Validate()
	if err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Fatalf("want three errors, got %v", err)
	}
}

func TestDefaultConfig(t *testing.T) {
	clk := newClock()
	l := mustNew(t, DefaultConfig(), clk)
	for i := range 5 {
		if d := l.Allow("bot", postMsg, "c1"); !d.Allowed || d.Limit != 5 || d.ResetAfter != 5*time.Second {
			t.Fatalf("message %d: %+v", i, d)
		}
	}
	if d := l.Allow("bot", postMsg, "c1"); d.Allowed {
		t.Fatalf("6th message in 5s allowed: %+v", d)
	}
	react := "PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"
	if d := l.Allow("bot", react, "c1"); !d.Allowed || d.ResetAfter != 250*time.Millisecond {
		t.Fatalf("reaction: %+v", d)
	}
	// Callers may edit the returned map without affecting later calls.
	c := DefaultConfig()
	delete(c.Routes, postMsg)
	if _, ok := DefaultConfig().Routes[postMsg]; !ok {
		t.Fatal("DefaultConfig shares its Routes map")
	}
}

func TestBucketHash(t *testing.T) {
	h := BucketHash(postMsg)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(h) {
		t.Fatalf("BucketHash = %q, want 32 hex digits", h)
	}
	if h != BucketHash(postMsg) || h == BucketHash(delMsg) {
		t.Fatal("BucketHash is not a deterministic function of the route")
	}
	clk := newClock()
	l := mustNew(t, Config{Enabled: true, Default: Rule{5, time.Second}}, clk)
	a, b := l.Allow("u1", getGuild, "g1"), l.Allow("u2", getGuild, "g2")
	if a.Bucket != BucketHash(getGuild) || a.Bucket != b.Bucket {
		t.Fatalf("buckets %q %q, want %q for both", a.Bucket, b.Bucket, BucketHash(getGuild))
	}
}

func TestMajor(t *testing.T) {
	tests := []struct{ pattern, path, want string }{
		{"POST /channels/{channel_id}/messages", "/channels/42/messages", "42"},
		{"GET /guilds/{guild_id}/members/{user_id}", "/guilds/7/members/9", "7"},
		{"POST /webhooks/{webhook_id}/{webhook_token}", "/webhooks/5/tok", "5"},
		{"GET /users/@me", "/users/@me", ""},
	}
	for _, tt := range tests {
		var got string
		mux := http.NewServeMux()
		mux.HandleFunc(tt.pattern, func(w http.ResponseWriter, r *http.Request) { got = Major(r) })
		method, _, _ := strings.Cut(tt.pattern, " ")
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, tt.path, nil))
		if got != tt.want {
			t.Errorf("%s: Major = %q, want %q", tt.pattern, got, tt.want)
		}
	}
}

func TestSweep(t *testing.T) {
	clk := newClock()
	l := mustNew(t, Config{
		Enabled: true,
		Global:  Rule{1000, time.Second},
		Default: Rule{10, time.Second},
		Routes:  map[string]Rule{"POST /slow": {1, time.Minute}},
	}, clk)
	for i := range 100 {
		l.Allow("u", getGuild, fmt.Sprint(i))
	}
	l.Allow("u", "POST /slow", "")
	if n := l.Len(); n != 102 { // 100 + slow + 1 global
		t.Fatalf("Len = %d, want 102", n)
	}
	if n := l.Sweep(); n != 0 {
		t.Fatalf("Sweep evicted %d live buckets", n)
	}
	clk.Advance(time.Second)
	if n := l.Sweep(); n != 101 {
		t.Fatalf("Sweep evicted %d, want 101", n)
	}
	if n := l.Len(); n != 1 {
		t.Fatalf("Len = %d after sweep, want 1 (the one-minute bucket)", n)
	}
	// Eviction changed nothing: the one-minute bucket is still exhausted.
	if d := l.Allow("u", "POST /slow", ""); d.Allowed {
		t.Fatal("sweep reset a live bucket")
	}
}

func TestRunEvictsAndStops(t *testing.T) {
	before := runtime.NumGoroutine()
	clk := newClock()
	l := mustNew(t, Config{Enabled: true, Default: Rule{1, time.Second}}, clk)
	for i := range 10 {
		l.Allow("u", getGuild, fmt.Sprint(i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx, time.Millisecond); close(done) }()

	clk.Advance(time.Second)
	accordtest.WaitFor(t, "eviction", func() bool { return l.Len() == 0 })

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	accordtest.WaitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}

func TestRouteCacheBounded(t *testing.T) {
	clk := newClock()
	l := mustNew(t, Config{Enabled: true, Default: Rule{5, time.Second}}, clk)
	for i := range maxRouteCache + 100 {
		route := fmt.Sprintf("GET /channels/%d", i) // a caller's mistake: concrete paths
		if d := l.Allow("u", route, ""); !d.Allowed || d.Bucket != BucketHash(route) {
			t.Fatalf("route %d: %+v", i, d)
		}
	}
	if n := len(*l.routes.Load()); n > maxRouteCache {
		t.Fatalf("route cache grew to %d", n)
	}
}

func TestClockBackwards(t *testing.T) {
	clk := newClock()
	l := mustNew(t, Config{Enabled: true, Default: Rule{1, time.Second}}, clk)
	l.Allow("u", getGuild, "g")
	clk.Advance(-time.Hour)
	if d := l.Allow("u", getGuild, "g"); !d.Allowed || d.ResetAfter != time.Second {
		t.Fatalf("after the clock went back: %+v", d)
	}
}

// Concurrent callers on one bucket must be admitted exactly Limit times,
// for a route bucket and for the global one alike.
func TestConcurrentExact(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"route", Config{Enabled: true, Default: Rule{100, time.Second}}},
		{"global", Config{Enabled: true, Global: Rule{100, time.Second}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := mustNew(t, tt.cfg, newClock())
			var allowed atomic.Int64
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for range 200 {
						if l.Allow("u", getGuild, "g").Allowed {
							allowed.Add(1)
						}
					}
				})
			}
			wg.Wait()
			if n := allowed.Load(); n != 100 {
				t.Fatalf("allowed %d of 1600 concurrent requests, want 100", n)
			}
		})
	}
}

func BenchmarkAllow(b *testing.B) {
	l, err := New(Config{
		Enabled: true,
		Global:  Rule{1 << 30, time.Second},
		Default: Rule{1 << 30, time.Second},
		Routes:  map[string]Rule{postMsg: {1 << 30, time.Second}},
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 1024)
	majors := make([]string, 1024)
	for i := range ids {
		ids[i] = fmt.Sprint(100000000000000000 + i)
		majors[i] = fmt.Sprint(200000000000000000 + i)
	}
	var seq atomic.Uint32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(7919))
		for pb.Next() {
			i++
			if d := l.Allow(ids[i%len(ids)], postMsg, majors[(i/3)%len(majors)]); !d.Allowed {
				b.Error("refused")
				return
			}
		}
	})
}

func BenchmarkAllowRefused(b *testing.B) {
	l, err := New(DefaultConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow("bot", postMsg, "1")
		}
	})
}

func BenchmarkAllowDisabled(b *testing.B) {
	l, _ := New(Config{}, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow("bot", postMsg, "1")
		}
	})
}

func BenchmarkWriteHeaders(b *testing.B) {
	l, _ := New(DefaultConfig(), nil)
	d := l.Allow("bot", postMsg, "1")
	h := make(http.Header, 8)
	b.ReportAllocs()
	for b.Loop() {
		d.WriteHeaders(h)
	}
}
