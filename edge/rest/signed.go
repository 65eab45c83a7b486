package rest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/core/snowflake"
)

// Attachment URLs are signed, as Discord's CDN URLs are: the server hands
// a file's URL only to someone who may see the message (in a REST answer
// or a gateway event), and the URL carries its expiry (ex), when it was
// issued (is) and an HMAC of the path and both (hm). Without a valid,
// unexpired signature the file is 404, so knowing or guessing a path is
// not enough. Fetching messages again, or POST /attachments/refresh-urls,
// gives fresh URLs.

// attachmentURLTTL is how long a signed URL works.
const attachmentURLTTL = 24 * time.Hour

type urlSigner struct {
	key []byte
	now func() time.Time
	// base, when set, replaces the scheme and host of the URLs signed
	// (the files origin, Config.FilesURL).
	base *url.URL
}

// mac is the signature of a file (channel/attachment/name, so a proxy
// that mounts the API under a prefix changes nothing) with its expiry and
// issue times (hex Unix seconds, as Discord writes them).
func (u urlSigner) mac(file, ex, is string) string {
	m := hmac.New(sha256.New, u.key)
	m.Write([]byte(file))
	m.Write([]byte{0})
	m.Write([]byte(ex))
	m.Write([]byte{0})
	m.Write([]byte(is))
	return hex.EncodeToString(m.Sum(nil))
}

// sign returns raw (an attachment URL, signed or not) signed anew.
func (u urlSigner) sign(raw string) string {
	p, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	file, ok := attachmentFile(p.Path)
	if !ok {
		return raw
	}
	if u.base != nil {
		p.Scheme, p.Host = u.base.Scheme, u.base.Host
		p.Path = strings.TrimRight(u.base.Path, "/") + "/attachments/" + file
		p.RawPath = ""
	}
	now := u.now()
	ex := strconv.FormatInt(now.Add(attachmentURLTTL).Unix(), 16)
	is := strconv.FormatInt(now.Unix(), 16)
	p.RawQuery = url.Values{"ex": {ex}, "is": {is}, "hm": {u.mac(file, ex, is)}}.Encode()
	return p.String()
}

// attachmentFile is the channel/attachment/name part of an attachment
// URL's path.
func attachmentFile(path string) (string, bool) {
	i := strings.LastIndex(path, "/attachments/")
	if i < 0 {
		return "", false
	}
	file := path[i+len("/attachments/"):]
	if strings.Count(file, "/") != 2 {
		return "", false
	}
	return file, true
}

// verify reports whether a request for file (channel/attachment/name)
// carries a valid, unexpired signature in its query.
func (u urlSigner) verify(file string, q url.Values) bool {
	ex, is, hm := q.Get("ex"), q.Get("is"), q.Get("hm")
	if ex == "" || is == "" || len(hm) != 2*sha256.Size || len(ex) > 16 || len(is) > 16 {
		return false
	}
	exp, err1 := strconv.ParseInt(ex, 16, 64)
	iss, err2 := strconv.ParseInt(is, 16, 64)
	if err1 != nil || err2 != nil || iss > exp {
		return false
	}
	now := u.now().Unix()
	if now >= exp || iss > now+300 { // a little clock skew between nodes
		return false
	}
	want := u.mac(file, ex, is)
	return hmac.Equal([]byte(strings.ToLower(hm)), []byte(want))
}

// refreshURLs is POST /attachments/refresh-urls: fresh signatures for
// attachment URLs of channels whose history the caller may read. URLs
// that are not Accord attachment URLs, or of channels the caller cannot
// read, are left out, as Discord leaves them out.
func (s *Server) refreshURLs(r *request) (any, error) {
	var body struct {
		URLs *[]string `json:"attachment_urls"`
	}
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	if body.URLs == nil {
		return nil, apierr.InvalidForm("attachment_urls", "BASE_TYPE_REQUIRED", "This field is required")
	}
	if len(*body.URLs) > 50 {
		return nil, apierr.InvalidForm("attachment_urls", "BASE_TYPE_MAX_LENGTH", "Must be 50 or fewer in length.")
	}
	type refreshed struct {
		Original  string `json:"original"`
		Refreshed string `json:"refreshed"`
	}
	out := []refreshed{}
	for _, raw := range *body.URLs {
		p, err := url.Parse(raw)
		if err != nil {
			continue
		}
		file, ok := attachmentFile(p.Path)
		if !ok {
			continue
		}
		cid, err := snowflake.Parse(file[:strings.IndexByte(file, '/')])
		if err != nil {
			continue
		}
		readable := s.eng.ViewChannel(r.user.ID, cid, func(c *engine.Chan) error {
			if !c.Has(perm.ReadMessageHistory) {
				return apierr.ErrMissingPermissions
			}
			return nil
		}) == nil
		if readable {
			out = append(out, refreshed{Original: raw, Refreshed: s.urls.sign(raw)})
		}
	}
	return map[string]any{"refreshed_urls": out}, nil
}
