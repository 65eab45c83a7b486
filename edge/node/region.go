package node

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/edge/rest"
	"github.com/accord-chat/accord/internal/config"
	"github.com/accord-chat/accord/raftstore"
)

// Internal headers between the nodes of a region.
const (
	hdrShard   = "X-Accord-Shard"   // the shard the forwarded write belongs to
	hdrApplied = "X-Accord-Applied" // the leader's applied index of it after the write
)

// RaftID is a node's Raft server ID, derived from its snowflake node ID so
// that an operator names nodes one way.
func RaftID(nodeID int) string { return "node-" + strconv.Itoa(nodeID) }

// RegionTLS loads the internal listener's TLS configuration: the
// configured files, or a development CA and certificate under the data
// directory for a node alone.
func RegionTLS(cfg config.Config) (*tls.Config, error) {
	t := cfg.Region.TLS
	if t.CA != "" {
		return raftstore.LoadTLS(t.CA, t.Cert, t.Key)
	}
	return raftstore.LoadOrCreateDevCerts(filepath.Join(cfg.Data, "tls"), RaftID(cfg.NodeID))
}

// openRegion starts this node's Raft groups with the engine's replica as
// their state machines, joins or bootstraps the region and waits until
// every shard has a leader.
func openRegion(ctx context.Context, cfg config.Config, log *slog.Logger, m raftstore.StateMachine) (*raftstore.Node, error) {
	tlsConf, err := RegionTLS(cfg)
	if err != nil {
		return nil, err
	}
	rn, err := raftstore.New(raftstore.Config{
		NodeID:        RaftID(cfg.NodeID),
		BindAddr:      cfg.Region.RaftAddr,
		AdvertiseAddr: cfg.Region.Advertise,
		DataDir:       filepath.Join(cfg.Data, "raft"),
		Shards:        cfg.Region.Shards,
		TLS:           tlsConf,
		Bootstrap:     len(cfg.Region.Join) == 0,
		Join:          cfg.Region.Join,
		Machine:       m,
		Logger:        log.With("component", "raft"),
	})
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := rn.Start(sctx); err != nil {
		rn.Close()
		return nil, err
	}
	if err := rn.WaitLeaders(sctx); err != nil {
		rn.Close()
		return nil, err
	}
	return rn, nil
}

// forwarder relays writes to shard leaders over the internal listener.
type forwarder struct {
	rn     *raftstore.Node
	log    *slog.Logger
	client *http.Client
}

func newForwarder(rn *raftstore.Node, log *slog.Logger) *forwarder {
	f := &forwarder{rn: rn, log: log}
	f.client = &http.Client{Transport: &http.Transport{
		// The URL's host is the leader's internal address; streams to it
		// are mutual TLS already, so the request itself is plain HTTP.
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return rn.Dial(ctx, addr, raftstore.KindRequest)
		},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     time.Minute,
	}}
	return f
}

// Forward implements rest.Forwarder.
func (f *forwarder) Forward(w http.ResponseWriter, r *http.Request, body []byte, shard int, leader string) int {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	// During an election there is no leader to send to yet.
	for leader == "" {
		select {
		case <-ctx.Done():
			return writeAPIError(w, apierr.ErrUnavailable)
		case <-time.After(25 * time.Millisecond):
		}
		if f.rn.IsLeader(shard) {
			leader = f.rn.Addr()
		} else {
			leader, _ = f.rn.Leader(shard)
		}
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, "http://"+leader+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return writeAPIError(w, apierr.ErrInternal)
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	req.Header.Set(hdrShard, strconv.Itoa(shard))
	req.Header.Set("X-Forwarded-For", r.RemoteAddr)
	resp, err := f.client.Do(req)
	if err != nil {
		f.log.Warn("forward to shard leader", "shard", shard, "leader", leader, "err", err)
		return writeAPIError(w, apierr.ErrUnavailable)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return writeAPIError(w, apierr.ErrUnavailable)
	}
	// Read-your-writes: answer once this node has applied what the leader
	// had applied when it answered.
	if idx, err := strconv.ParseUint(resp.Header.Get(hdrApplied), 10, 64); err == nil {
		if err := f.rn.WaitApplied(ctx, shard, idx); err != nil {
			f.log.Warn("wait for forwarded write", "shard", shard, "index", idx, "err", err)
		}
	}
	for k, vs := range resp.Header {
		if k == hdrApplied {
			continue
		}
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
	return resp.StatusCode
}

func writeAPIError(w http.ResponseWriter, e *apierr.Error) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(apierr.MarshalError(e))
	return e.Status
}

// internalHandler serves requests forwarded by other nodes: the REST API,
// marked internal (no second rate limit), reporting the shard's applied
// index with the response.
func internalHandler(api http.Handler, rn *raftstore.Node) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_accord/") && r.Header.Get(hdrShard) == "" {
			// The operator's CLI, holding a certificate of the region.
			api.ServeHTTP(w, r.WithContext(rest.Operator(r.Context())))
			return
		}
		shard, err := strconv.Atoi(r.Header.Get(hdrShard))
		if err != nil || shard < 0 || shard >= rn.Shards() {
			http.Error(w, "bad shard", http.StatusBadRequest)
			return
		}
		aw := &appliedWriter{ResponseWriter: w, rn: rn, shard: shard}
		api.ServeHTTP(aw, r.WithContext(rest.Internal(r.Context())))
	})
}

// appliedWriter stamps the shard's applied index on the response when the
// handler starts answering, which is after its write was applied here.
type appliedWriter struct {
	http.ResponseWriter
	rn     *raftstore.Node
	shard  int
	header bool
}

func (a *appliedWriter) WriteHeader(code int) {
	if !a.header {
		a.header = true
		a.Header().Set(hdrApplied, strconv.FormatUint(a.rn.Applied(a.shard), 10))
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *appliedWriter) Write(b []byte) (int, error) {
	if !a.header {
		a.WriteHeader(http.StatusOK)
	}
	return a.ResponseWriter.Write(b)
}

// serveInternal serves forwarded requests until the listener closes.
func serveInternal(rn *raftstore.Node, api http.Handler, log *slog.Logger) (*http.Server, func() error) {
	ln := rn.Listen(raftstore.KindRequest)
	srv := &http.Server{Handler: internalHandler(api, rn), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return srv, func() error {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			return fmt.Errorf("internal listener: %w", err)
		}
		return nil
	}
}
