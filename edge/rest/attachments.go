package rest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
)

// upload is one file of a multipart message request, already spooled to a
// temporary file.
type upload struct {
	index       int // n in files[n]
	filename    string
	contentType string
	tmp         string
	size        int64
}

func isMultipart(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "multipart/form-data"
}

// readMultipart parses Discord's multipart message body: a payload_json
// part with the JSON body and files[n] parts.
func (s *Server) readMultipart(r *request, body *messageBody) ([]upload, error) {
	r.Body = http.MaxBytesReader(r.w, r.Body, s.cfg.MaxUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, apierr.InvalidForm("_root", "BASE_TYPE_INVALID", "Malformed multipart body.")
	}
	var files []upload
	cleanup := func() {
		for _, f := range files {
			os.Remove(f.tmp)
		}
	}
	tmpDir := filepath.Join(s.cfg.AttachmentDir, "tmp")
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return nil, fmt.Errorf("attachment dir: %w", err)
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			cleanup()
			if strings.Contains(err.Error(), "too large") {
				return nil, apierr.ErrPayloadTooLarge
			}
			return nil, apierr.InvalidForm("_root", "BASE_TYPE_INVALID", "Malformed multipart body.")
		}
		name := part.FormName()
		switch {
		case name == "payload_json":
			raw, err := io.ReadAll(io.LimitReader(part, maxJSONBody+1))
			if err != nil || len(raw) > maxJSONBody {
				cleanup()
				return nil, apierr.ErrPayloadTooLarge
			}
			if err := decodeBytes(raw, body); err != nil {
				cleanup()
				return nil, err
			}
		case strings.HasPrefix(name, "files[") || strings.HasPrefix(name, "file"):
			idx := len(files)
			if strings.HasPrefix(name, "files[") && strings.HasSuffix(name, "]") {
				if n, err := strconv.Atoi(name[6 : len(name)-1]); err == nil {
					idx = n
				}
			}
			tmp, err := os.CreateTemp(tmpDir, "upload-*")
			if err != nil {
				cleanup()
				return nil, fmt.Errorf("spool upload: %w", err)
			}
			n, err := io.Copy(tmp, part)
			tmp.Close()
			files = append(files, upload{index: idx, filename: part.FileName(), contentType: part.Header.Get("Content-Type"), tmp: tmp.Name(), size: n})
			if err != nil {
				cleanup()
				if strings.Contains(err.Error(), "too large") {
					return nil, apierr.ErrPayloadTooLarge
				}
				return nil, apierr.InvalidForm("files", "BASE_TYPE_INVALID", "Could not read file.")
			}
		default:
			// Discord ignores unknown parts; so do we.
		}
	}
	if len(files) > 10 {
		cleanup()
		return nil, apierr.InvalidForm("files", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
	}
	return files, nil
}

// safeFilename keeps a filename to characters that are safe in a path and
// a URL, as Discord does (spaces become underscores).
func safeFilename(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('_')
		}
	}
	out := strings.TrimLeft(b.String(), ".")
	if out == "" {
		out = "unknown"
	}
	if len(out) > 128 {
		out = out[len(out)-128:]
	}
	return out
}

// storeUploads puts the spooled files into the store (store.FileStore),
// so a message that references them is never acknowledged before its
// files are durable, and any node of the region can serve them.
func (s *Server) storeUploads(ctx context.Context, channelID ID, files []upload, refs []attachmentRef) ([]model.Attachment, error) {
	if len(files) == 0 {
		return nil, nil
	}
	descs := map[int]attachmentRef{}
	for _, ref := range refs {
		var n int
		if json.Unmarshal(ref.ID, &n) == nil {
			descs[n] = ref
		} else {
			var str string
			if json.Unmarshal(ref.ID, &str) == nil {
				if n, err := strconv.Atoi(str); err == nil {
					descs[n] = ref
				}
			}
		}
	}
	for _, f := range files {
		if utf8.RuneCountInString(descs[f.index].Description) > 1024 {
			return nil, apierr.InvalidForm("attachments", "BASE_TYPE_MAX_LENGTH", "Description must be 1024 or fewer in length.")
		}
	}
	out, err := s.placeUploads(ctx, channelID, files, descs)
	if err != nil {
		s.discardUploads(channelID, out)
		return nil, err
	}
	return out, nil
}

// placeUploads puts each spooled file into the store, returning the
// attachments placed so far even on failure so they can be discarded.
func (s *Server) placeUploads(ctx context.Context, channelID ID, files []upload, descs map[int]attachmentRef) ([]model.Attachment, error) {
	var out []model.Attachment
	for _, f := range files {
		id, err := s.newAttachmentID(ctx, channelID)
		if err != nil {
			return out, err
		}
		name := f.filename
		desc := ""
		if ref, ok := descs[f.index]; ok {
			if ref.Filename != "" {
				name = ref.Filename
			}
			desc = ref.Description
		}
		name = safeFilename(name)
		ct := f.contentType
		if ct == "" || ct == "application/octet-stream" {
			if byExt := mime.TypeByExtension(filepath.Ext(name)); byExt != "" {
				ct = byExt
			}
		}
		url := fmt.Sprintf("%s/attachments/%s/%s/%s", s.cfg.PublicURL, channelID, id, name)
		// Listed before it is stored, so a failure discards it too.
		out = append(out, model.Attachment{ID: id, Filename: name, Description: desc, ContentType: ct, Size: f.size, URL: url, ProxyURL: url})
		if err := s.putSpooled(ctx, channelID, id, f.tmp); err != nil {
			return out, err
		}
	}
	return out, nil
}

func (s *Server) putSpooled(ctx context.Context, channelID, id ID, path string) error {
	src, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("store attachment: %w", err)
	}
	defer src.Close()
	if _, err := s.files.PutFile(ctx, channelID, id, src); err != nil {
		return fmt.Errorf("store attachment: %w", err)
	}
	return nil
}

// newAttachmentID picks an attachment ID that no file of the channel has.
// The ID is a snowflake of the current millisecond whose other 22 bits
// are random, so that it cannot be worked out from the message's ID (the
// signed URL is what guards a file; this keeps a leaked message ID from
// naming its files).
func (s *Server) newAttachmentID(ctx context.Context, channelID ID) (ID, error) {
	for range 8 {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("attachment id: %w", err)
		}
		id := snowflake.FromTime(time.Now()) | ID(binary.BigEndian.Uint32(b[:])&(1<<22-1))
		_, err := s.files.FileSize(ctx, channelID, id)
		if errors.Is(err, store.ErrNotFound) {
			return id, nil
		}
		if err != nil {
			return 0, fmt.Errorf("attachment id: %w", err)
		}
	}
	return 0, errors.New("attachment id: every draw was taken")
}

// discardSpooled removes the temporary files of uploads, stored or not.
func discardSpooled(files []upload) {
	for _, f := range files {
		os.Remove(f.tmp)
	}
}

// discardUploads removes files of a message that was refused.
func (s *Server) discardUploads(channelID ID, atts []model.Attachment) {
	for _, a := range atts {
		if err := s.files.DeleteFile(context.Background(), channelID, a.ID); err != nil {
			s.log.Warn("discard a refused message's file", "channel", channelID, "attachment", a.ID, "err", err)
		}
	}
}

// serveAttachment serves a stored file to whoever holds a signed URL for
// it (signed.go); the headers keep a file from running as the site.
func (s *Server) serveAttachment(w http.ResponseWriter, r *http.Request) {
	cid, err1 := snowflake.Parse(r.PathValue("channel_id"))
	aid, err2 := snowflake.Parse(r.PathValue("attachment_id"))
	name := r.PathValue("filename")
	if s.urls.base != nil && !strings.EqualFold(r.Host, s.urls.base.Host) {
		// With a files origin the API's origin serves no file: a page
		// there could otherwise be made to run as the site.
		http.NotFound(w, r)
		return
	}
	if err1 != nil || err2 != nil || safeFilename(name) != name || !s.urls.verify(cid.String()+"/"+aid.String()+"/"+name, r.URL.Query()) {
		// Unsigned, expired, forged or malformed: as if nothing were
		// there (signed.go).
		http.NotFound(w, r)
		return
	}
	// User files are served from the API's origin: nothing in them may
	// run as the site. The type comes from the stored name, never from
	// sniffing the bytes; only types a browser displays without running
	// anything are shown inline; the sandbox policy keeps even an HTML
	// file that a browser opens from reaching the origin's cookies,
	// storage or API.
	ctype := mime.TypeByExtension(filepath.Ext(name))
	base, _, _ := mime.ParseMediaType(ctype)
	switch {
	case ctype == "":
		ctype = "application/octet-stream"
	case base == "text/plain":
		ctype = "text/plain; charset=utf-8"
	}
	disposition := "attachment"
	if inlineTypes[base] {
		disposition = "inline"
	}
	size, err := s.files.FileSize(r.Context(), cid, aid)
	legacy := ""
	if errors.Is(err, store.ErrNotFound) {
		// Uploads before files moved into the store were kept on the
		// receiving node's disk, at this path.
		legacy = filepath.Join(s.cfg.AttachmentDir, cid.String(), aid.String(), name)
		if fi, serr := os.Stat(legacy); serr != nil || !fi.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		err = nil
	}
	if err != nil {
		s.log.Error("serve attachment", "channel", cid, "attachment", aid, "err", err)
		http.Error(w, "the file cannot be read now", http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ctype) // set, so http.ServeContent does not sniff
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cross-Origin-Resource-Policy", "same-site")
	h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": name}))
	// A file never changes once stored (its ID is new for every upload),
	// so caches may keep it; private, since the URL is signed for whoever
	// could see the message. The ETag lets a cache revalidate after the
	// URL's expiry without the bytes.
	h.Set("Cache-Control", "private, max-age=86400, immutable")
	h.Set("ETag", `"`+aid.String()+`"`)
	// ServeContent answers Range, If-Range and If-None-Match, and sets
	// Content-Length; the bytes come from the store, chunk by chunk.
	if legacy != "" {
		http.ServeFile(w, r, legacy)
		return
	}
	body := io.NewSectionReader(fileReader{ctx: r.Context(), files: s.files, channel: cid, id: aid}, 0, size)
	http.ServeContent(w, r, name, time.Time{}, body)
}

// fileReader reads a stored file as an io.ReaderAt.
type fileReader struct {
	ctx         context.Context
	files       store.FileStore
	channel, id ID
}

func (f fileReader) ReadAt(p []byte, off int64) (int, error) {
	return f.files.ReadFileAt(f.ctx, f.channel, f.id, p, off)
}

// inlineTypes are the file types served inline: images, audio, video and
// plain text, which browsers display without running anything. Others
// (HTML, SVG, XML, scripts, unknown) are downloaded.
var inlineTypes = map[string]bool{
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true, "image/avif": true, "image/bmp": true,
	"video/mp4": true, "video/webm": true, "video/quicktime": true,
	"audio/mpeg": true, "audio/ogg": true, "audio/wav": true, "audio/x-wav": true, "audio/webm": true, "audio/flac": true, "audio/mp4": true,
	"text/plain": true,
}

// validateEmbed checks an embed object against Discord's field limits.
func validateEmbed(f *apierr.FormErrors, path string, raw json.RawMessage) {
	var e struct {
		Title       *string `json:"title"`
		Description *string `json:"description"`
		URL         *string `json:"url"`
		Color       *int64  `json:"color"`
		Footer      *struct {
			Text    string  `json:"text"`
			IconURL *string `json:"icon_url"`
		} `json:"footer"`
		Author *struct {
			Name    string  `json:"name"`
			URL     *string `json:"url"`
			IconURL *string `json:"icon_url"`
		} `json:"author"`
		Image *struct {
			URL *string `json:"url"`
		} `json:"image"`
		Thumbnail *struct {
			URL *string `json:"url"`
		} `json:"thumbnail"`
		Fields []struct {
			Name   string `json:"name"`
			Value  string `json:"value"`
			Inline bool   `json:"inline"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		f.Add(path, "DICT_TYPE_CONVERT", "Embed must be an object with fields of the documented types.")
		return
	}
	max := func(p string, s *string, n int) {
		if s != nil && utf8.RuneCountInString(*s) > n {
			f.Addf(path+"."+p, "BASE_TYPE_MAX_LENGTH", "Must be %d or fewer in length.", n)
		}
	}
	max("title", e.Title, 256)
	max("description", e.Description, 4096)
	embedURL(f, path+".url", e.URL, false)
	if e.Footer != nil {
		max("footer.text", &e.Footer.Text, 2048)
		embedURL(f, path+".footer.icon_url", e.Footer.IconURL, true)
	}
	if e.Author != nil {
		max("author.name", &e.Author.Name, 256)
		embedURL(f, path+".author.url", e.Author.URL, false)
		embedURL(f, path+".author.icon_url", e.Author.IconURL, true)
	}
	if e.Image != nil {
		embedURL(f, path+".image.url", e.Image.URL, true)
	}
	if e.Thumbnail != nil {
		embedURL(f, path+".thumbnail.url", e.Thumbnail.URL, true)
	}
	if e.Color != nil && (*e.Color < 0 || *e.Color > 0xFFFFFF) {
		f.Add(path+".color", "NUMBER_TYPE_MAX", "Int value should be between 0 and 16777215.")
	}
	if len(e.Fields) > 25 {
		f.Add(path+".fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
	}
	for i, fl := range e.Fields {
		p := path + ".fields." + strconv.Itoa(i)
		if fl.Name == "" {
			f.Add(p+".name", "BASE_TYPE_REQUIRED", "This field is required")
		}
		if fl.Value == "" {
			f.Add(p+".value", "BASE_TYPE_REQUIRED", "This field is required")
		}
		max("name", &fl.Name, 256)
		max("value", &fl.Value, 1024)
	}
}

// embedURL refuses, as Discord does, an embed URL that is not a well
// formed http(s) URL: a javascript: or data: link stored in an embed would
// run in any client that renders it. Images and icons may also name an
// uploaded file of the message (attachment://name).
func embedURL(f *apierr.FormErrors, path string, raw *string, images bool) {
	if raw == nil {
		return
	}
	u, err := url.Parse(*raw)
	if err != nil || u.Scheme == "" {
		f.Add(path, "URL_TYPE_INVALID", "Not a well formed URL.")
		return
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "http" || scheme == "https":
		if u.Host == "" {
			f.Add(path, "URL_TYPE_INVALID", "Not a well formed URL.")
		}
	case scheme == "attachment" && images:
		if u.Host == "" && u.Opaque == "" {
			f.Add(path, "URL_TYPE_INVALID", "Not a well formed URL.")
		}
	case images:
		f.Addf(path, "URL_TYPE_INVALID_SCHEME", "Scheme %q is not supported. Scheme must be one of ('http', 'https', 'attachment').", scheme)
	default:
		f.Addf(path, "URL_TYPE_INVALID_SCHEME", "Scheme %q is not supported. Scheme must be one of ('http', 'https').", scheme)
	}
}

// embedChars counts the characters Discord's 6000-per-message embed limit
// is about.
func embedChars(embeds []json.RawMessage) int {
	n := 0
	for _, raw := range embeds {
		var e struct {
			Title, Description string
			Footer             struct{ Text string }
			Author             struct{ Name string }
			Fields             []struct{ Name, Value string }
		}
		_ = json.Unmarshal(raw, &e)
		n += utf8.RuneCountInString(e.Title) + utf8.RuneCountInString(e.Description) +
			utf8.RuneCountInString(e.Footer.Text) + utf8.RuneCountInString(e.Author.Name)
		for _, fl := range e.Fields {
			n += utf8.RuneCountInString(fl.Name) + utf8.RuneCountInString(fl.Value)
		}
	}
	return n
}
