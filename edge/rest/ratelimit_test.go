package rest

// Rate limits as clients see them through the API: Discord's headers on
// every limited route, a 429 with a JSON body when a bucket is empty, and
// nothing at all when limits are off.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accord-chat/accord/edge/ratelimit"
)

// rlHeaders checks the X-RateLimit-* headers of an allowed request.
func rlHeaders(t *testing.T, r resp, limit, remaining int, window time.Duration) {
	t.Helper()
	h := r.Header
	if got := h.Get("X-RateLimit-Limit"); got != strconv.Itoa(limit) {
		t.Fatalf("X-RateLimit-Limit %q, want %d", got, limit)
	}
	if got := h.Get("X-RateLimit-Remaining"); got != strconv.Itoa(remaining) {
		t.Fatalf("X-RateLimit-Remaining %q, want %d", got, remaining)
	}
	after, err := strconv.ParseFloat(h.Get("X-RateLimit-Reset-After"), 64)
	if err != nil || after <= 0 || after > window.Seconds() {
		t.Fatalf("X-RateLimit-Reset-After %q", h.Get("X-RateLimit-Reset-After"))
	}
	reset, err := strconv.ParseFloat(h.Get("X-RateLimit-Reset"), 64)
	now := float64(time.Now().UnixMilli()) / 1000
	if err != nil || reset < now-1 || reset > now+window.Seconds()+1 {
		t.Fatalf("X-RateLimit-Reset %q at %.3f", h.Get("X-RateLimit-Reset"), now)
	}
	if len(h.Get("X-RateLimit-Bucket")) < 16 {
		t.Fatalf("X-RateLimit-Bucket %q", h.Get("X-RateLimit-Bucket"))
	}
}

func TestRateLimitMessageBurst(t *testing.T) {
	f := mtSetup(t, withRateLimits(ratelimit.DefaultConfig()))
	second := f.channel("second", 0)
	var bucket string
	for i := range 5 {
		r := f.h.must(200, f.post(f.member, f.text, map[string]any{"content": fmt.Sprint("burst ", i)}))
		rlHeaders(t, r, 5, 4-i, 5*time.Second)
		if i == 0 {
			bucket = r.Header.Get("X-RateLimit-Bucket")
		} else if got := r.Header.Get("X-RateLimit-Bucket"); got != bucket {
			t.Fatalf("bucket changed: %q then %q", bucket, got)
		}
		if r.Header.Get("Via") != "" {
			t.Fatalf("Via on an allowed request: %q", r.Header.Get("Via"))
		}
	}
	r := f.post(f.member, f.text, map[string]any{"content": "one too many"})
	if r.Status != 429 {
		t.Fatalf("6th message: %d %s", r.Status, r.Body)
	}
	var body struct {
		Message    string   `json:"message"`
		RetryAfter *float64 `json:"retry_after"`
		Global     *bool    `json:"global"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("429 body %q: %v", r.Body, err)
	}
	if body.RetryAfter == nil || *body.RetryAfter <= 0 || *body.RetryAfter > 5 || body.Global == nil || *body.Global || body.Message == "" {
		t.Fatalf("429 body %s", r.Body)
	}
	for k, want := range map[string]string{"Content-Type": "application/json", "X-RateLimit-Scope": "user", "X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "5", "X-RateLimit-Bucket": bucket} {
		if got := r.Header.Get(k); got != want {
			t.Fatalf("429 %s %q, want %q", k, got, want)
		}
	}
	if r.Header.Get("Via") == "" {
		t.Fatal("429 without Via: discord.js would take it for a Cloudflare ban")
	}
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 5 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if ids := f.history(f.owner, f.text, ""); len(ids) != 5 {
		t.Fatalf("%d messages stored, want 5", len(ids))
	}

	// Buckets are per channel and per user; other routes have their own.
	r = f.h.must(200, f.post(f.member, second, map[string]any{"content": "elsewhere"}))
	rlHeaders(t, r, 5, 4, 5*time.Second)
	if r.Header.Get("X-RateLimit-Bucket") != bucket {
		t.Fatal("the bucket hash should name the route, not the channel")
	}
	r = f.h.must(200, f.post(f.owner, f.text, map[string]any{"content": "someone else"}))
	rlHeaders(t, r, 5, 4, 5*time.Second)
	r = f.h.must(200, f.h.do("GET", "/channels/"+f.text+"/messages", f.member.Token, nil))
	if r.Header.Get("X-RateLimit-Limit") != "50" || r.Header.Get("X-RateLimit-Bucket") == bucket {
		t.Fatalf("history headers %v", r.Header)
	}
	// Still limited in the first channel, and the refusal did not count.
	r = f.post(f.member, f.text, map[string]any{"content": "still too many"})
	if r.Status != 429 {
		t.Fatalf("7th message: %d", r.Status)
	}
}

func TestRateLimitAPIVersionsShareBuckets(t *testing.T) {
	f := mtSetup(t, withRateLimits(ratelimit.DefaultConfig()))
	for i, prefix := range []string{"/api/v10", "/api/v9", "/api", "/api/v10", "/api/v9"} {
		r := f.rlDo(prefix, "POST", "/channels/"+f.text+"/messages", f.member.Token, `{"content":"v"}`)
		f.h.must(200, r)
		rlHeaders(t, r, 5, 4-i, 5*time.Second)
	}
	if r := f.rlDo("/api", "POST", "/channels/"+f.text+"/messages", f.member.Token, `{"content":"v"}`); r.Status != 429 {
		t.Fatalf("6th message over mixed versions: %d", r.Status)
	}
}

// rlDo sends a JSON request under an API prefix of choice (h.do always
// uses /api/v10).
func (f *mtFix) rlDo(prefix, method, path, token, body string) resp {
	f.h.t.Helper()
	req, err := http.NewRequest(method, f.h.srv.URL+prefix+path, strings.NewReader(body))
	if err != nil {
		f.h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", token)
	res, err := f.h.srv.Client().Do(req)
	if err != nil {
		f.h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: raw}
}

func TestRateLimitsOff(t *testing.T) {
	f := mtSetup(t)
	id := f.h.send(f.owner, f.text, "target")
	for i := range 30 {
		r := f.h.must(200, f.post(f.member, f.text, map[string]any{"content": fmt.Sprint("fast ", i)}))
		for _, k := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Bucket", "Retry-After"} {
			if v := r.Header.Get(k); v != "" {
				t.Fatalf("%s %q with limits off", k, v)
			}
		}
	}
	for i := range 10 {
		f.h.must(204, f.react(f.member, f.text, id, string(rune(0x1F600+i))))
		f.h.must(204, f.h.do("DELETE", rpPath(f.text, id, string(rune(0x1F600+i)))+"/@me", f.member.Token, nil))
	}
	for range 3 {
		a, b := f.h.send(f.owner, f.text, "a"), f.h.send(f.owner, f.text, "b")
		f.h.must(204, f.h.do("POST", "/channels/"+f.text+"/messages/bulk-delete", f.owner.Token, map[string]any{"messages": []string{a, b}}))
	}
	if n := len(f.history(f.owner, f.text, "?limit=100")); n != 31 {
		t.Fatalf("%d messages, want 31", n)
	}
}
