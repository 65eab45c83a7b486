package raftstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// network is how a Node reaches its disk and its peers: a Pebble log store and one
// TLS port in production (tcpNetwork), raft's in-memory transport and
// stores in tests (InmemNetwork). Everything above it is shared.
type network interface {
	// addr is the node's advertised address, also its raft.ServerAddress.
	addr() string
	// openShard opens one shard's stores and transport.
	openShard(cfg Config, shard int, m *mux, log hclog.Logger) (shardIO, error)
	// dial opens a raw stream to a node; the caller writes the header.
	dial(ctx context.Context, addr string) (net.Conn, error)
	// serve starts handing inbound streams to m.serveConn.
	serve(m *mux)
	// close stops accepting streams.
	close()
}

type shardIO struct {
	logs   raft.LogStore
	stable raft.StableStore
	snaps  raft.SnapshotStore
	trans  raft.Transport
	close  func() error // closes the stores; raft closes the transport
}

// Transport tuning for one shard: a few pooled streams per peer, and an
// RPC timeout well above a loopback or LAN round trip.
const (
	transportMaxPool = 3
	transportTimeout = 2 * time.Second
)

// Pipelined replication is off, on both networks. In hashicorp/raft (1.7.3
// and 1.8.0) a follower's rejected append ends the pipeline's decoder;
// when the replication loop then sends once more, the send waits forever
// on a channel only the decoder drains, while the pipeline's Close waits
// behind that send. The follower then gets heartbeats but never another
// entry, and Raft.Shutdown hangs (seen here as a hung Close after
// RemoveNode; grafana/pyroscope#5518 describes it). Without a pipeline
// each follower has one AppendEntries in flight, of up to MaxAppendEntries
// (256) entries.
const transportMaxInFlight = 1

type tcpNetwork struct {
	ln        net.Listener
	advertise string
	tls       *tls.Config
	dataDir   string
	logs      *logDB // opened with the first shard, closed with the last
}

func listenTCP(cfg Config) (*tcpNetwork, error) {
	if cfg.TLS == nil && !cfg.Insecure {
		return nil, errors.New("raftstore config: TLS is required (Insecure only for tests)")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("raftstore config: DataDir is required")
	}
	ln, err := net.Listen("tcp", cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("raftstore: listen: %w", err)
	}
	adv, err := advertiseAddr(cfg.AdvertiseAddr, ln.Addr())
	if err != nil {
		ln.Close()
		return nil, err
	}
	return &tcpNetwork{ln: ln, advertise: adv, tls: clientTLS(cfg.TLS), dataDir: cfg.DataDir}, nil
}

// advertiseAddr picks the address peers will dial: the configured one, or
// the bound one when it names a host.
func advertiseAddr(configured string, bound net.Addr) (string, error) {
	if configured != "" {
		host, port, err := net.SplitHostPort(configured)
		if err != nil || host == "" || port == "0" {
			return "", fmt.Errorf("raftstore config: AdvertiseAddr %q: want host:port", configured)
		}
		return configured, nil
	}
	tcp, ok := bound.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		return "", fmt.Errorf("raftstore config: bound to %s, which peers cannot dial: set AdvertiseAddr", bound)
	}
	return tcp.String(), nil
}

// clientTLS fills in the name every node certificate carries, so a config
// from elsewhere still verifies peers.
func clientTLS(c *tls.Config) *tls.Config {
	if c == nil || c.ServerName != "" {
		return c
	}
	c = c.Clone()
	c.ServerName = ServerName
	return c
}

func (t *tcpNetwork) addr() string { return t.advertise }

func (t *tcpNetwork) openShard(cfg Config, shard int, m *mux, log hclog.Logger) (shardIO, error) {
	dir := filepath.Join(cfg.DataDir, fmt.Sprintf("shard-%02d", shard))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return shardIO{}, fmt.Errorf("raftstore: shard %d: %w", shard, err)
	}
	if t.logs == nil {
		// One log database for every shard (see logDB). A second process
		// on the same DataDir fails on Pebble's lock file.
		db, err := openLogDB(filepath.Join(cfg.DataDir, "log"), cfg.Logger)
		if err != nil {
			return shardIO{}, err
		}
		t.logs = db
	}
	store := t.logs.shard(shard)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, log)
	if err != nil {
		store.Close()
		return shardIO{}, fmt.Errorf("raftstore: shard %d: snapshots: %w", shard, err)
	}
	logs, err := raft.NewLogCache(512, store)
	if err != nil {
		store.Close()
		return shardIO{}, fmt.Errorf("raftstore: shard %d: log cache: %w", shard, err)
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:          newStreamLayer(m, shard),
		MaxPool:         transportMaxPool,
		MaxRPCsInFlight: transportMaxInFlight,
		Timeout:         transportTimeout,
		Logger:          log,
	})
	return shardIO{logs: logs, stable: store, snaps: snaps, trans: trans, close: store.Close}, nil
}

func (t *tcpNetwork) dial(ctx context.Context, addr string) (net.Conn, error) {
	return dialTCP(ctx, t.tls, addr)
}

func dialTCP(ctx context.Context, conf *tls.Config, addr string) (net.Conn, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil || conf == nil {
		return raw, err
	}
	conn := tls.Client(raw, conf)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return conn, nil
}

func (t *tcpNetwork) serve(m *mux) {
	m.goFunc(func() {
		var delay time.Duration
		for {
			raw, err := t.ln.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				m.log.Warn("raftstore: accept", "err", err)
				select {
				case <-time.After(delay):
					continue
				case <-m.done:
					return
				}
			}
			delay = 0
			conn := raw
			if t.tls != nil {
				conn = tls.Server(raw, t.tls)
			}
			if !m.goFunc(func() { m.serveConn(conn) }) {
				raw.Close()
			}
		}
	})
}

func (t *tcpNetwork) close() { t.ln.Close() }

// claimDataDir records which node owns dir, so a node never starts on
// another node's Raft state (it would impersonate it in every shard).
func claimDataDir(dir, id string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("raftstore: data dir: %w", err)
	}
	p := filepath.Join(dir, "node-id")
	b, err := os.ReadFile(p)
	switch {
	case err == nil:
		if got := strings.TrimSpace(string(b)); got != id {
			return fmt.Errorf("raftstore: data dir %s belongs to node %q, not %q", dir, got, id)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("raftstore: data dir: %w", err)
	}
	if err := os.WriteFile(p, []byte(id+"\n"), 0o600); err != nil {
		return fmt.Errorf("raftstore: data dir: %w", err)
	}
	return nil
}
