package rest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	sh "github.com/accord-chat/accord/core/shard"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
	"github.com/accord-chat/accord/edge/auth"
	"github.com/accord-chat/accord/edge/discord"
	"github.com/accord-chat/accord/edge/ratelimit"
)

type ID = snowflake.ID

// Config configures the REST API.
type Config struct {
	Engine   *engine.Engine
	Verifier *auth.Verifier
	// Limiter applies Discord's rate limits; nil disables them.
	Limiter *ratelimit.Limiter
	Logger  *slog.Logger
	// AttachmentDir is where uploads are spooled before they go into the
	// store.
	AttachmentDir string
	// Files holds attachment bytes; Engine.Store() when nil.
	Files store.FileStore
	// PublicURL is the base URL clients reach this node at
	// ("http://127.0.0.1:8080"); attachment URLs are built from it.
	PublicURL string
	// GatewayURL is returned by GET /gateway ("ws://127.0.0.1:8080/gateway").
	GatewayURL string
	// Region is the name of this node's region (GET /voice/regions).
	Region string
	// MaxUpload bounds the files of one request, in bytes (Discord's
	// default, 10 MiB, when 0).
	MaxUpload int64
	// Registerer receives the API's metrics; none when nil.
	Registerer prometheus.Registerer
	// Forward sends a write to the leader of its shard when this node
	// does not lead it (region mode); nil on a single node.
	Forward Forwarder
	// AttachmentKey signs attachment URLs (signed.go); every node of a
	// region needs the same. Empty: a random key for this process only.
	AttachmentKey []byte
	// FilesURL, when set, is the separate origin user files are served
	// from ("https://files.example.org", pointing at the same nodes, as
	// Discord serves them from its CDN): attachment URLs name it, and the
	// API's own origin serves no file. Empty: files on PublicURL.
	FilesURL string
}

// Forwarder relays a request to another node of the region: the leader
// of a shard. It writes the leader's response to w and returns its
// status; it waits for this node to apply what the leader did, so the
// client reads its own write here next.
type Forwarder interface {
	Forward(w http.ResponseWriter, r *http.Request, body []byte, shard int, leader string) int
}

// Server is the REST API handler.
type Server struct {
	cfg     Config
	eng     *engine.Engine
	log     *slog.Logger
	mux     *http.ServeMux
	metrics *metrics
	urls    urlSigner
	files   store.FileStore
}

// New builds the API. Mount Handler at the root of the HTTP server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxUpload == 0 {
		cfg.MaxUpload = 10 << 20
	}
	key := cfg.AttachmentKey
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			panic(fmt.Sprintf("rest: attachment key: %v", err))
		}
	}
	s := &Server{cfg: cfg, eng: cfg.Engine, log: cfg.Logger, mux: http.NewServeMux(), metrics: newMetrics(cfg.Registerer),
		urls: urlSigner{key: key, now: time.Now}, files: cfg.Files}
	if s.files == nil && cfg.Engine != nil {
		s.files = cfg.Engine.Store()
	}
	if cfg.FilesURL != "" {
		base, err := url.Parse(cfg.FilesURL)
		if err != nil || base.Host == "" {
			panic(fmt.Sprintf("rest: files URL %q is not an absolute URL", cfg.FilesURL))
		}
		s.urls.base = base
	}
	s.routes()
	return s
}

// Handler returns the http.Handler serving /api/v9, /api/v10 and the
// attachment files.
func (s *Server) Handler() http.Handler { return s.mux }

// request is one API call as handlers see it.
type request struct {
	*http.Request
	w     http.ResponseWriter
	user  *model.User // nil on routes without auth
	token *model.Token
	raw   string // the presented token
}

// Status wrappers for handler results.
type (
	created   struct{ v any }
	noContent struct{}
)

type handlerFunc func(r *request) (any, error)

// Route options.
const (
	public = 1 << iota // no Authorization needed
	// operator routes answer only requests that came through the internal
	// listener (mutual TLS with a certificate of the region's CA): the
	// operator's CLI, or another node forwarding one. They are not part
	// of Discord's API and live under /_accord.
	operator
)

// handle registers a route under every API version prefix. pattern uses
// Discord's parameter names ("/channels/{channel_id}/messages"), which is
// also the rate limit route key.
func (s *Server) handle(method, pattern string, opts int, h handlerFunc) {
	route := method + " " + pattern
	fn := func(w http.ResponseWriter, hr *http.Request) {
		start := time.Now()
		status := s.serve(w, hr, route, opts, h)
		s.metrics.observe(route, status, time.Since(start))
	}
	if opts&operator != 0 {
		s.mux.HandleFunc(method+" /_accord"+pattern, fn)
		return
	}
	for _, prefix := range []string{"/api/v10", "/api/v9", "/api"} {
		s.mux.HandleFunc(method+" "+prefix+pattern, fn)
	}
}

func (s *Server) serve(w http.ResponseWriter, hr *http.Request, route string, opts int, h handlerFunc) (status int) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("handler panic", "route", route, "panic", p)
			status = writeError(w, apierr.ErrInternal)
		}
	}()
	r := &request{Request: hr, w: w}
	// A write may have to run on another node; keep its body to send on.
	var body []byte
	if s.cfg.Forward != nil && hr.Method != http.MethodGet && hr.Body != nil {
		b, err := io.ReadAll(io.LimitReader(hr.Body, s.cfg.MaxUpload+1<<20))
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// The body did not arrive within the listener's read
				// deadline (a client trickling it): say so, and close.
				w.Header().Set("Connection", "close")
				return writeJSON(w, http.StatusRequestTimeout, map[string]any{"message": "The request body did not arrive in time.", "code": 0})
			}
			return 499 // the client went away mid-body
		}
		body = b
		hr.Body = io.NopCloser(bytes.NewReader(b))
	}
	internal := IsInternal(hr.Context())
	if opts&operator != 0 && !internal && !IsOperator(hr.Context()) {
		return writeError(w, apierr.ErrNotFound)
	}
	identity := "ip:" + clientIP(hr)
	if opts&public == 0 {
		tok, botPrefix := auth.ParseHeader(hr.Header.Get("Authorization"))
		t, err := s.cfg.Verifier.Verify(hr.Context(), tok)
		if err == nil && t.Bot != botPrefix {
			// Discord takes bot tokens only as "Bot <token>" and user
			// tokens only bare.
			err = auth.ErrInvalidToken
		}
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidToken) {
				s.log.Error("verify token", "err", err)
				return writeError(w, apierr.ErrInternal)
			}
			return writeError(w, apierr.ErrUnauthorized)
		}
		u := s.eng.User(t.UserID)
		if u == nil {
			return writeError(w, apierr.ErrUnauthorized)
		}
		r.user, r.token, r.raw = u, t, tok
		identity = t.UserID.String()
	}
	if l := s.cfg.Limiter; l != nil && !internal {
		d := l.Allow(identity, route, ratelimit.Major(hr))
		d.WriteHeaders(w.Header())
		if !d.Allowed {
			w.Header().Set("Content-Type", "application/json")
			// Discord's 429s come from its edge proxy, which names itself in
			// Via; discord.js uses that to tell them from Cloudflare bans.
			w.Header().Set("Via", "1.1 accord")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write(d.Body())
			return http.StatusTooManyRequests
		}
	}
	out, err := h(r)
	var nl *sh.NotLeaderError
	if errors.As(err, &nl) {
		if internal || s.cfg.Forward == nil {
			// Leadership moved while the request travelled; the
			// client retries (libraries retry 5xx) and lands right.
			return writeError(w, apierr.ErrUnavailable)
		}
		return s.cfg.Forward.Forward(w, hr, body, nl.Shard, nl.Leader)
	}
	if err != nil {
		var de *apierr.Error
		if errors.As(err, &de) {
			return writeError(w, de)
		}
		if errors.Is(err, context.Canceled) {
			return 499
		}
		s.log.Error("request failed", "route", route, "err", err)
		return writeError(w, apierr.ErrInternal)
	}
	switch v := out.(type) {
	case noContent:
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	case created:
		return writeJSON(w, http.StatusCreated, v.v)
	default:
		return writeJSON(w, http.StatusOK, v)
	}
}

func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return host
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	b, err := encode(v)
	if err != nil {
		return writeError(w, apierr.ErrInternal)
	}
	// Exactly "application/json": some libraries compare the header
	// rather than parse it.
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}

// encode is json.Marshal with the message encoder's fast path: history
// pages are the largest and most frequent bodies.
func encode(v any) ([]byte, error) {
	switch m := v.(type) {
	case []*discord.Message:
		return discord.AppendMessages(make([]byte, 0, 1024*len(m)+2), m), nil
	case *discord.Message:
		return m.AppendJSON(make([]byte, 0, 1024)), nil
	}
	return json.Marshal(v)
}

func writeError(w http.ResponseWriter, e *apierr.Error) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(apierr.MarshalError(e))
	return e.Status
}

// idParam parses a snowflake path parameter; a bad one is a 404 on
// Discord for most routes, but a clear 50035 is kinder and is what
// Discord sends for snowflake fields in bodies.
func (r *request) idParam(name string) (ID, error) {
	v := r.PathValue(name)
	id, err := snowflake.Parse(v)
	if err != nil {
		return 0, apierr.InvalidForm(name, "NUMBER_TYPE_COERCE", fmt.Sprintf("Value %q is not snowflake.", truncate(v)))
	}
	return id, nil
}

// meParam resolves "@me" or a snowflake.
func (r *request) userParam(name string) (ID, error) {
	if r.PathValue(name) == "@me" {
		return r.user.ID, nil
	}
	return r.idParam(name)
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

type internalKey struct{}

// Internal marks a request that came from another node of the region over
// the mutual-TLS link: it was rate limited where it entered the region.
func Internal(ctx context.Context) context.Context {
	return context.WithValue(ctx, internalKey{}, true)
}

// Operator marks a request of the operator's CLI that came in over the
// internal listener: it may use the operator routes, and is forwarded to
// a shard's leader like any client's.
func Operator(ctx context.Context) context.Context {
	return context.WithValue(ctx, operatorKey{}, true)
}

// IsOperator reports whether Operator marked the request.
func IsOperator(ctx context.Context) bool {
	v, _ := ctx.Value(operatorKey{}).(bool)
	return v
}

type operatorKey struct{}

// IsInternal reports whether Internal marked the request.
func IsInternal(ctx context.Context) bool {
	v, _ := ctx.Value(internalKey{}).(bool)
	return v
}
