package raftstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// InmemNetwork joins Nodes inside one process, for tests of this package
// and of FSMs: Raft runs on raft.InmemTransport with raft.InmemStore and
// an in-memory snapshot store, admin and Dial/Listen streams on net.Pipe.
// Everything above the transport — Apply, WaitApplied, membership with its
// forwarding, snapshots — is the code that runs over sockets.
type InmemNetwork struct {
	mu    sync.Mutex
	nodes map[string]*inmemNode
	seq   int
	// cut holds the pairs of addresses that cannot reach each other.
	cut map[[2]string]bool
}

// NewInmemNetwork returns an empty network.
func NewInmemNetwork() *InmemNetwork { return &InmemNetwork{nodes: map[string]*inmemNode{}} }

// New starts a Node on the network. cfg.BindAddr names the node (one is
// made up when empty) and must be unique among open nodes; DataDir, TLS
// and AdvertiseAddr are ignored, and state lives until Close.
func (nw *InmemNetwork) New(cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	nw.mu.Lock()
	if cfg.BindAddr == "" {
		nw.seq++
		cfg.BindAddr = fmt.Sprintf("inmem-%d", nw.seq)
	}
	if nw.nodes[cfg.BindAddr] != nil {
		nw.mu.Unlock()
		return nil, fmt.Errorf("raftstore: inmem address %s in use", cfg.BindAddr)
	}
	in := &inmemNode{nw: nw, address: cfg.BindAddr}
	nw.nodes[in.address] = in // reserved; reachable once serve sets mux
	nw.mu.Unlock()
	n, err := newNode(cfg, in)
	if err != nil {
		in.close()
		return nil, err
	}
	return n, nil
}

type inmemNode struct {
	nw      *InmemNetwork
	address string
	trans   []*raft.InmemTransport // per shard; guarded by nw.mu
	mux     *mux                   // nil until serve; guarded by nw.mu
}

func (in *inmemNode) addr() string { return in.address }

func (in *inmemNode) openShard(_ Config, shard int, _ *mux, _ hclog.Logger) (shardIO, error) {
	_, t := raft.NewInmemTransport(raft.ServerAddress(in.address))
	store := raft.NewInmemStore()
	in.nw.mu.Lock()
	defer in.nw.mu.Unlock()
	if len(in.trans) != shard {
		return shardIO{}, errors.New("raftstore: inmem shards opened out of order")
	}
	in.trans = append(in.trans, t)
	return shardIO{logs: store, stable: store, snaps: raft.NewInmemSnapshotStore(), trans: noPipeline{t},
		close: func() error { return nil }}, nil
}

// noPipeline refuses pipelined replication, as the socket transport does
// (see transportMaxInFlight), so both networks replicate the same way.
type noPipeline struct{ *raft.InmemTransport }

func (noPipeline) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

// serve connects every shard's transport with the same shard's transport
// on every other node, both ways.
func (in *inmemNode) serve(m *mux) {
	in.nw.mu.Lock()
	defer in.nw.mu.Unlock()
	in.mux = m
	for _, o := range in.nw.nodes {
		if o == in || o.mux == nil || in.nw.isCut(in.address, o.address) {
			continue
		}
		for s := range min(len(in.trans), len(o.trans)) {
			in.trans[s].Connect(raft.ServerAddress(o.address), o.trans[s])
			o.trans[s].Connect(raft.ServerAddress(in.address), in.trans[s])
		}
	}
}

func (in *inmemNode) dial(ctx context.Context, addr string) (net.Conn, error) {
	in.nw.mu.Lock()
	o := in.nw.nodes[addr]
	cut := in.nw.isCut(in.address, addr)
	in.nw.mu.Unlock()
	if o == nil || o.mux == nil || cut {
		return nil, fmt.Errorf("inmem %s: connection refused", addr)
	}
	client, server := net.Pipe()
	if !o.mux.goFunc(func() { o.mux.serveConn(server) }) {
		client.Close()
		server.Close()
		return nil, fmt.Errorf("inmem %s: connection refused", addr)
	}
	return client, nil
}

// close takes the node off the network: peers' transports forget it, as
// if its host had gone away.
func (in *inmemNode) close() {
	in.nw.mu.Lock()
	defer in.nw.mu.Unlock()
	if in.nw.nodes[in.address] == in {
		delete(in.nw.nodes, in.address)
	}
	for _, o := range in.nw.nodes {
		for s := range min(len(in.trans), len(o.trans)) {
			o.trans[s].Disconnect(raft.ServerAddress(in.address))
			in.trans[s].Disconnect(raft.ServerAddress(o.address))
		}
	}
}

// Partition cuts the nodes at addrs off from every other node of the
// network, both ways: Raft RPCs and streams between the two sides fail,
// as if a switch had died; the nodes inside addrs still reach each other.
// Heal undoes it.
func (nw *InmemNetwork) Partition(addrs ...string) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if nw.cut == nil {
		nw.cut = map[[2]string]bool{}
	}
	inside := map[string]bool{}
	for _, a := range addrs {
		inside[a] = true
	}
	for a, na := range nw.nodes {
		for b, nb := range nw.nodes {
			if inside[a] == inside[b] {
				continue
			}
			nw.cut[[2]string{a, b}] = true
			for s := range min(len(na.trans), len(nb.trans)) {
				na.trans[s].Disconnect(raft.ServerAddress(b))
			}
		}
	}
}

// Heal reconnects every pair of nodes Partition cut.
func (nw *InmemNetwork) Heal() {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	for pair := range nw.cut {
		na, nb := nw.nodes[pair[0]], nw.nodes[pair[1]]
		if na == nil || nb == nil {
			continue
		}
		for s := range min(len(na.trans), len(nb.trans)) {
			na.trans[s].Connect(raft.ServerAddress(nb.address), nb.trans[s])
		}
	}
	nw.cut = nil
}

// isCut reports whether a and b are on two sides of a partition; nw.mu is
// held.
func (nw *InmemNetwork) isCut(a, b string) bool { return nw.cut[[2]string{a, b}] }
