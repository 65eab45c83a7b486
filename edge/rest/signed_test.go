package rest

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/perm"
)

// TestSignedAttachmentURLs: a file is served only through a URL the
// server signed, until it expires; POST /attachments/refresh-urls signs
// again for whoever may read the channel.
func TestSignedAttachmentURLs(t *testing.T) {
	f := mtSetup(t)
	data := []byte("for members only")
	r := f.h.must(200, f.mtMultipart("POST", "/channels/"+f.text+"/messages", f.member.Token, "", mtFile{"file", "secret.txt", "text/plain", data}))
	signed := r.Obj()["attachments"].([]any)[0].(map[string]any)["url"].(string)
	if status, body, _ := f.fetch(signed); status != 200 || !bytes.Equal(body, data) {
		t.Fatalf("signed URL: %d %q", status, body)
	}
	u, _ := url.Parse(signed)
	q := u.Query()
	with := func(mutate func(p *url.URL, q url.Values)) string {
		p := *u
		qq := url.Values{}
		for k, v := range q {
			qq[k] = append([]string(nil), v...)
		}
		mutate(&p, qq)
		p.RawQuery = qq.Encode()
		return p.String()
	}
	stale := f.h.api.urls
	stale.now = func() time.Time { return time.Now().Add(-attachmentURLTTL - time.Minute) }
	for name, bad := range map[string]string{
		"unsigned":        unsigned(signed),
		"forged hm":       with(func(_ *url.URL, q url.Values) { h := []byte(q.Get("hm")); h[0] ^= 1; q.Set("hm", string(h)) }),
		"later expiry":    with(func(_ *url.URL, q url.Values) { q.Set("ex", "7fffffff") }),
		"no expiry":       with(func(_ *url.URL, q url.Values) { q.Del("ex") }),
		"another file":    with(func(p *url.URL, _ url.Values) { p.Path = strings.Replace(p.Path, "secret.txt", "other.txt", 1) }),
		"expired":         stale.sign(signed),
		"signed by a key": (urlSigner{key: []byte("some other key"), now: time.Now}).sign(signed),
	} {
		if status, _, _ := f.fetch(bad); status != 404 {
			t.Errorf("%s: %d, want 404 (%s)", name, status, bad)
		}
	}

	refresh := func(u user, urls ...string) []any {
		t.Helper()
		out := f.h.must(200, f.h.do("POST", "/attachments/refresh-urls", u.Token, map[string]any{"attachment_urls": urls})).Obj()
		return out["refreshed_urls"].([]any)
	}
	expired := stale.sign(signed)
	got := refresh(f.owner, expired, "https://example.com/not/ours.png")
	if len(got) != 1 || got[0].(map[string]any)["original"] != expired {
		t.Fatalf("refresh: %v", got)
	}
	if status, body, _ := f.fetch(got[0].(map[string]any)["refreshed"].(string)); status != 200 || !bytes.Equal(body, data) {
		t.Fatalf("refreshed URL: %d %q", status, body)
	}
	outsider := f.h.user("refresh_outsider")
	if got := refresh(outsider, expired); len(got) != 0 {
		t.Fatalf("an outsider got %v", got)
	}
	f.deny(f.text, f.member, perm.ReadMessageHistory)
	if got := refresh(f.member, expired); len(got) != 0 {
		t.Fatalf("a member without READ_MESSAGE_HISTORY got %v", got)
	}
	f.h.wantFormErr(f.h.do("POST", "/attachments/refresh-urls", f.owner.Token, map[string]any{}), "attachment_urls", "BASE_TYPE_REQUIRED")
}

// FuzzAttachmentSignature: no query the fuzzer makes verifies for any
// file, and a signed URL with any byte of its query changed does not
// verify either (unless the change decodes to the same values, or
// changes only the case of the hex MAC).
func FuzzAttachmentSignature(f *testing.F) {
	// A fixed clock: every fuzz worker runs this setup again, and with
	// the real clock a worker that starts a second later signs a
	// different URL than the seed corpus holds, which then verifies
	// (it is genuine) yet differs from that worker's "good" one.
	at := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	s := urlSigner{key: []byte("fuzzing key, 32 bytes long......"), now: func() time.Time { return at }}
	good := s.sign("http://h/attachments/1/2/a.txt")
	gu, _ := url.Parse(good)
	f.Add("1/2/a.txt", gu.RawQuery, uint16(0), byte(1))
	f.Add("1/2/a.txt", "ex=7fffffff&is=0&hm="+strings.Repeat("0", 64), uint16(3), byte(0))
	f.Add("", "", uint16(0), byte(0))
	f.Fuzz(func(t *testing.T, file, rawQuery string, at uint16, flip byte) {
		q, _ := url.ParseQuery(rawQuery)
		if s.verify(file, q) && rawQuery != gu.RawQuery {
			gq := gu.Query()
			if !strings.EqualFold(q.Get("hm"), gq.Get("hm")) || q.Get("ex") != gq.Get("ex") || q.Get("is") != gq.Get("is") || file != "1/2/a.txt" {
				t.Fatalf("forged signature verified: %q %q", file, rawQuery)
			}
		}
		b := []byte(gu.RawQuery)
		i := int(at) % len(b)
		b[i] ^= flip
		mq, _ := url.ParseQuery(string(b))
		gq := gu.Query()
		// hm is hex, and verify takes it in either case.
		same := strings.EqualFold(mq.Get("hm"), gq.Get("hm")) && mq.Get("ex") == gq.Get("ex") && mq.Get("is") == gq.Get("is")
		if !same && s.verify("1/2/a.txt", mq) {
			t.Fatalf("a changed signature verified: %q", b)
		}
	})
}

// TestFilesOrigin: with a files origin, attachment URLs name it, files
// are served there only, and the API's origin serves none.
func TestFilesOrigin(t *testing.T) {
	f := mtSetup(t, func(c *Config) { c.FilesURL = "https://files.example.test" })
	data := []byte("<html>a page</html>")
	r := f.h.must(200, f.mtMultipart("POST", "/channels/"+f.text+"/messages", f.member.Token, "", mtFile{"file", "page.html", "text/html", data}))
	signed := r.Obj()["attachments"].([]any)[0].(map[string]any)["url"].(string)
	u, err := url.Parse(signed)
	if err != nil || u.Scheme != "https" || u.Host != "files.example.test" || !strings.HasPrefix(u.Path, "/attachments/"+f.text+"/") {
		t.Fatalf("attachment URL %s does not name the files origin", signed)
	}
	get := func(host string) int {
		req, _ := http.NewRequest("GET", f.h.srv.URL+u.RequestURI(), nil)
		req.Host = host
		res, err := f.h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		return res.StatusCode
	}
	if got := get("files.example.test"); got != 200 {
		t.Fatalf("files origin: %d, want 200", got)
	}
	if got := get(strings.TrimPrefix(f.h.srv.URL, "http://")); got != 404 {
		t.Fatalf("API origin served a file: %d, want 404", got)
	}
}
