package node

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
	"github.com/accord-chat/accord/core/store/cassandra"
	"github.com/accord-chat/accord/core/store/pebblestore"
	"github.com/accord-chat/accord/edge/auth"
	"github.com/accord-chat/accord/edge/gateway"
	"github.com/accord-chat/accord/edge/ratelimit"
	"github.com/accord-chat/accord/edge/rest"
	"github.com/accord-chat/accord/internal/config"
	"github.com/accord-chat/accord/raftstore"
)

// Node is a running edge node.
type Node struct {
	cfg     config.Config
	log     *slog.Logger
	store   store.Store
	engine  *engine.Engine
	limiter *ratelimit.Limiter
	api     *rest.Server
	gw      *gateway.Server
	media   *media
	reg     *prometheus.Registry
	ln      net.Listener
	srv     *http.Server
	opsLn   net.Listener // the metrics listener, when configured
	opsSrv  *http.Server

	// The region: this node's Raft groups, the engine's side of them and
	// the server for writes other nodes forward here.
	raft      *raftstore.Node
	internal  *http.Server
	serveIntl func() error
}

// OpenStore opens the configured store backend.
func OpenStore(cfg config.Config, log *slog.Logger) (store.Store, error) {
	switch cfg.Store {
	case "embedded":
		return pebblestore.Open(pebblestore.Options{Dir: filepath.Join(cfg.Data, "store"), Logger: log})
	case "cassandra":
		return cassandra.Open(CassandraOptions(cfg, log))
	}
	return nil, fmt.Errorf("unknown store %q", cfg.Store)
}

// CassandraOptions maps the configuration onto the Cassandra backend's.
func CassandraOptions(cfg config.Config, log *slog.Logger) cassandra.Options {
	c := cfg.Cassandra
	return cassandra.Options{Hosts: c.Hosts, LocalDC: c.DC, Keyspace: c.Keyspace, Replication: c.Replication,
		Consistency: c.Consistency, Logger: log}
}

// New opens the store, loads state and binds the listener. Nothing is
// served until Run.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*Node, error) {
	if err := os.MkdirAll(cfg.Data, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	st, err := OpenStore(cfg, log)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	n := &Node{cfg: cfg, log: log, store: st, reg: prometheus.NewRegistry()}
	n.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n.engine = engine.New(engine.Config{
		Store:  st,
		IDs:    snowflake.NewGenerator(uint8(cfg.NodeID>>5), uint8(cfg.NodeID&31)),
		Logger: log.With("component", "engine"),
		Shards: cfg.Region.Shards,
	})
	// The store holds what was persisted; the Raft groups then restore
	// their snapshots over it and replay their logs, both idempotent.
	if err := n.engine.Load(ctx); err != nil {
		n.engine.Close()
		st.Close()
		return nil, err
	}
	n.raft, err = openRegion(ctx, cfg, log, n.engine)
	if err != nil {
		n.engine.Close()
		st.Close()
		return nil, fmt.Errorf("region: %w", err)
	}
	n.engine.Attach(n.raft)
	// Where the operator's commands find this node (see CreateBot).
	if err := os.WriteFile(filepath.Join(cfg.Data, addrFile), []byte(n.raft.Addr()+"\n"), 0o644); err != nil {
		n.closeRegion()
		st.Close()
		return nil, fmt.Errorf("data dir: %w", err)
	}
	rl := ratelimit.DefaultConfig()
	rl.Enabled = cfg.RateLimits == "on"
	n.limiter, err = ratelimit.New(rl, nil)
	if err != nil {
		n.closeRegion()
		st.Close()
		return nil, fmt.Errorf("rate limits: %w", err)
	}
	wsURL := "ws" + strings.TrimPrefix(cfg.PublicURL, "http") + "/gateway"
	verifier := auth.NewVerifier(st)
	akey, err := attachmentKey(cfg)
	if err != nil {
		n.closeRegion()
		st.Close()
		return nil, err
	}
	n.api = rest.New(rest.Config{
		AttachmentKey: akey, FilesURL: cfg.CDNURL, MaxUpload: int64(cfg.MaxUploadMiB) << 20,
		Engine: n.engine, Verifier: verifier, Limiter: n.limiter,
		Logger: log.With("component", "rest"), AttachmentDir: filepath.Join(cfg.Data, "attachments"),
		PublicURL: cfg.PublicURL, GatewayURL: wsURL, Registerer: n.reg, Region: cfg.Region.Name,
		Forward: newForwarder(n.raft, log.With("component", "forward")),
	})
	tconf, plainToo, err := publicTLS(cfg)
	if err != nil {
		n.closeRegion()
		st.Close()
		return nil, err
	}
	n.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		n.closeRegion()
		st.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	if cfg.Voice.UDP == "" {
		// Media on the same port number as the API, over UDP (the port
		// the listener got, when it was asked for any).
		cfg.Voice.UDP = n.ln.Addr().String()
	}
	n.media, err = openMedia(cfg, log, n.reg, n.engine, akey, RaftID(cfg.NodeID))
	if err != nil {
		n.ln.Close()
		n.closeRegion()
		st.Close()
		return nil, err
	}
	n.internal, n.serveIntl = serveInternal(n.raft, n.api.Handler(), log)
	n.gw = gateway.New(gateway.Config{
		Engine: n.engine, Verifier: verifier, Renderer: n.api, Logger: log.With("component", "gateway"),
		URL: wsURL, HeartbeatInterval: cfg.HeartbeatInterval, Registerer: n.reg, NodeName: RaftID(cfg.NodeID),
		Voice: n.media.voice, VoiceEndpoint: n.media.voice.Endpoint(),
	})
	n.engine.SetPublisher(publishers{n.gw, n.media.voice})
	mux := http.NewServeMux()
	mux.Handle("/api/", n.api.Handler())
	mux.Handle("/attachments/", n.api.Handler())
	mux.Handle("/gateway", n.gw.Handler())
	mux.Handle("/voice", n.media.voice.Handler())
	// discord.py dials wss://{endpoint}/?v=8: the same path with a slash.
	mux.Handle("/voice/{$}", n.media.voice.Handler())
	// discordgo appends a slash to the URL GET /gateway returns
	// ("ws://host/gateway/?v=9&encoding=json"), as Discord's gateway
	// lives at the root of its host.
	mux.Handle("/gateway/{$}", n.gw.Handler())
	ops := http.NewServeMux()
	ops.Handle("GET /metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}))
	if os.Getenv("ACCORD_DEBUG_PPROF") == "1" {
		// Profiling for benchmark runs; off by default.
		ops.HandleFunc("/debug/pprof/", pprof.Index)
		ops.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	if cfg.MetricsListen != "" {
		n.opsLn, err = net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			n.ln.Close()
			n.closeRegion()
			st.Close()
			return nil, fmt.Errorf("metrics listen: %w", err)
		}
		n.opsSrv = &http.Server{Handler: ops, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	} else {
		local := operatorOnly(cfg.MetricsToken, ops)
		mux.Handle("GET /metrics", local)
		mux.Handle("/debug/pprof/", local)
	}
	mux.HandleFunc("GET /healthz", n.healthz)
	n.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "accord", Subsystem: "raft", Name: "shards_halted",
		Help: "Shards this node stopped applying because an entry could not be applied (see /healthz for why); the node must be restarted with a binary that can.",
	}, func() float64 { return float64(n.raft.Halted()) }))
	n.srv = publicLimits.apply(&http.Server{Handler: mux, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)})
	n.ln = limitPerIP(n.ln, publicLimits.perIP)
	if plainToo {
		n.ln = sniffListener{Listener: n.ln, conf: tconf}
	} else {
		n.ln = tls.NewListener(n.ln, tconf)
	}
	return n, nil
}

// operatorOnly serves h to the node's operator only: a client on this
// host that came through no proxy (a proxy on the same host would make
// every client look local, so a forwarding header disqualifies), or one
// with the metrics token. Others get 404, as if nothing were there: the
// public port must not tell the world the node's internals.
func operatorOnly(token string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1 {
				h.ServeHTTP(w, r)
				return
			}
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		ip := net.ParseIP(host)
		proxied := r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" || r.Header.Get("X-Real-Ip") != ""
		if ip == nil || !ip.IsLoopback() || proxied {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// MetricsAddr is the bound address of the metrics listener ("" when the
// metrics are on the public listener).
func (n *Node) MetricsAddr() string {
	if n.opsLn == nil {
		return ""
	}
	return n.opsLn.Addr().String()
}

// healthz answers 200 "ok" while every shard applies, 503 with the reason
// once one has halted: a load balancer then takes the node out.
func (n *Node) healthz(w http.ResponseWriter, _ *http.Request) {
	if err := n.raft.Health(); err != nil {
		http.Error(w, "unhealthy: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// Addr is the bound listen address (useful with port 0).
func (n *Node) Addr() string { return n.ln.Addr().String() }

// Engine exposes the guild engine (operator commands, tests).
func (n *Node) Engine() *engine.Engine { return n.engine }

// Run serves until ctx ends, then drains in-flight requests (up to 10 s)
// and closes the store. Every goroutine it starts has ended when it
// returns.
func (n *Node) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	lctx, stopLimiter := context.WithCancel(context.Background())
	wg.Add(3)
	go func() {
		defer wg.Done()
		n.limiter.Run(lctx, ratelimit.DefaultSweepInterval)
	}()
	go func() {
		defer wg.Done()
		_ = n.media.voice.Run(lctx)
	}()
	go func() {
		defer wg.Done()
		_ = n.gw.Run(lctx)
	}()
	errc := make(chan error, 1)
	go func() { errc <- n.srv.Serve(n.ln) }()
	opsDone := make(chan error, 1)
	if n.opsSrv != nil {
		go func() { opsDone <- n.opsSrv.Serve(n.opsLn) }()
	} else {
		opsDone <- nil
	}
	intlDone := make(chan error, 1)
	go func() { intlDone <- n.serveIntl() }()
	n.log.Info("accord serving", "listen", n.Addr(), "public_url", n.cfg.PublicURL, "data", n.cfg.Data,
		"region", n.cfg.Region.Name, "raft_id", RaftID(n.cfg.NodeID), "raft_addr", n.raft.Addr())

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := n.srv.Shutdown(sctx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		n.log.Warn("shutdown", "err", serr)
	}
	if err == nil {
		<-errc
	}
	if n.opsSrv != nil {
		if serr := n.opsSrv.Shutdown(sctx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			n.log.Warn("metrics shutdown", "err", serr)
		}
	}
	<-opsDone
	if serr := n.internal.Shutdown(sctx); serr != nil {
		n.log.Warn("internal shutdown", "err", serr)
	}
	<-intlDone
	// Gateway connections are hijacked, so Shutdown does not wait for
	// them: the gateway closes them itself (1001, clients resume).
	stopLimiter()
	wg.Wait()
	n.media.close()
	n.closeRegion()
	if cerr := n.store.Close(); cerr != nil {
		return errors.Join(err, cerr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	n.log.Info("accord stopped")
	return err
}

// Close releases a node that was built but never run.
func (n *Node) Close() error {
	n.ln.Close()
	n.media.close()
	if n.opsLn != nil {
		n.opsLn.Close()
	}
	n.closeRegion()
	return n.store.Close()
}

// closeRegion stops the Raft groups (a clean stop: the other nodes elect
// new leaders for the shards this one led).
func (n *Node) closeRegion() {
	_ = os.Remove(filepath.Join(n.cfg.Data, addrFile))
	if err := n.raft.Close(); err != nil {
		n.log.Warn("close raft", "err", err)
	}
	n.engine.Close()
}

// Raft exposes the node's Raft groups (admin commands, tests).
func (n *Node) Raft() *raftstore.Node { return n.raft }

// attachmentKey is the key that signs attachment URLs: the configured
// one, or one kept in the data directory (made on first start), so that
// URLs handed out survive a restart.
func attachmentKey(cfg config.Config) ([]byte, error) {
	if cfg.AttachmentKey != "" {
		return hex.DecodeString(cfg.AttachmentKey)
	}
	path := filepath.Join(cfg.Data, "attachment.key")
	if b, err := os.ReadFile(path); err == nil {
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) < 32 {
			return nil, fmt.Errorf("%s: not a key of 32 bytes or more in hex", path)
		}
		return k, nil
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("attachment key: %w", err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("attachment key: %w", err)
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("attachment key: %w", err)
	}
	return k, nil
}
