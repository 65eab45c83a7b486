package raftstore

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// The admin protocol: one JSON request and one JSON response on a KindAdmin
// stream. Any holder of a certificate from the region's CA may use it.

type adminRequest struct {
	Op   string `json:"op"` // opAdd, opRemove, opMembers
	ID   string `json:"id,omitempty"`
	Addr string `json:"addr,omitempty"`
	// Shards is set on requests forwarded from another node: act on these
	// shards only, only where this node leads, and never forward.
	Shards []int `json:"shards,omitempty"`
	// TimeoutMS carries the caller's deadline.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
}

type adminResponse struct {
	Error   string         `json:"error,omitempty"`
	Results []shardResult  `json:"results,omitempty"`
	Members []ShardMembers `json:"members,omitempty"`
}

type shardResult struct {
	Shard int    `json:"shard"`
	Error string `json:"error,omitempty"`
}

// ShardMembers is one shard's configuration as seen by the node asked.
type ShardMembers struct {
	Shard   int      `json:"shard"`
	Members []Member `json:"members"`
	Error   string   `json:"error,omitempty"`
}

const (
	adminIOTimeout      = 10 * time.Second
	adminDefaultTimeout = 30 * time.Second
	adminMaxTimeout     = 10 * time.Minute
)

func (n *Node) serveAdmin(conn net.Conn) {
	defer conn.Close()
	var req adminRequest
	conn.SetReadDeadline(time.Now().Add(adminIOTimeout))
	if err := json.NewDecoder(conn).Decode(&req); err != nil {
		n.log.Warn("raftstore: admin request", "remote", conn.RemoteAddr(), "err", err)
		return
	}
	conn.SetReadDeadline(time.Time{})
	timeout := adminDefaultTimeout
	if req.TimeoutMS > 0 {
		timeout = min(time.Duration(req.TimeoutMS)*time.Millisecond, adminMaxTimeout)
	}
	ctx, cancel := context.WithTimeout(n.ctx, timeout)
	defer cancel()
	resp := n.handleAdmin(ctx, req)
	conn.SetWriteDeadline(time.Now().Add(adminIOTimeout))
	if err := json.NewEncoder(conn).Encode(resp); err != nil {
		n.log.Warn("raftstore: admin response", "remote", conn.RemoteAddr(), "err", err)
	}
}

func (n *Node) handleAdmin(ctx context.Context, req adminRequest) adminResponse {
	var resp adminResponse
	var err error
	switch {
	case req.Op == opMembers:
		resp.Members = n.allMembers()
	case req.Op != opAdd && req.Op != opRemove:
		err = fmt.Errorf("unknown op %q", req.Op)
	case req.Shards != nil:
		for _, i := range req.Shards {
			r := shardResult{Shard: i}
			switch _, serr := n.shard(i); {
			case serr != nil:
				r.Error = serr.Error()
			case !n.IsLeader(i):
				r.Error = n.notLeader(i).Error()
			default:
				if cerr := n.changeLocal(ctx, i, req); cerr != nil {
					r.Error = cerr.Error()
				}
			}
			resp.Results = append(resp.Results, r)
		}
	case req.Op == opAdd:
		err = n.AddNode(ctx, req.ID, req.Addr)
	default:
		err = n.RemoveNode(ctx, req.ID)
	}
	if err != nil {
		resp.Error = err.Error()
	}
	return resp
}

func (n *Node) allMembers() []ShardMembers {
	out := make([]ShardMembers, len(n.shards))
	for i := range n.shards {
		out[i].Shard = i
		ms, err := n.Members(i)
		out[i].Members = ms
		if err != nil {
			out[i].Error = err.Error()
		}
	}
	return out
}

func (n *Node) adminCall(ctx context.Context, via string, req adminRequest) (adminResponse, error) {
	return adminCall(ctx, func(ctx context.Context) (net.Conn, error) {
		return n.mux.dial(ctx, via, []byte{KindAdmin})
	}, req)
}

// adminCall sends one request on a stream from dial and reads the answer.
func adminCall(ctx context.Context, dial func(context.Context) (net.Conn, error), req adminRequest) (adminResponse, error) {
	var resp adminResponse
	if d, ok := ctx.Deadline(); ok {
		req.TimeoutMS = max(time.Until(d).Milliseconds(), 1)
	}
	conn, err := dial(ctx)
	if err != nil {
		return resp, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return resp, fmt.Errorf("admin %s: %w", req.Op, errors.Join(ctx.Err(), err))
	}
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		return resp, fmt.Errorf("admin %s: %w", req.Op, errors.Join(ctx.Err(), err))
	}
	if resp.Error != "" {
		return resp, fmt.Errorf("admin %s: %s", req.Op, resp.Error)
	}
	return resp, nil
}

// adminDial opens an admin stream without a Node, for the CLI. A nil
// tlsConf means plain TCP, for tests against Insecure nodes.
func adminDial(tlsConf *tls.Config, via string) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		conn, err := dialTCP(ctx, clientTLS(tlsConf), via)
		if err != nil {
			return nil, fmt.Errorf("raftstore: dial %s: %w", via, err)
		}
		if d, ok := ctx.Deadline(); ok {
			conn.SetWriteDeadline(d)
		}
		if _, err := conn.Write([]byte{KindAdmin}); err != nil {
			conn.Close()
			return nil, fmt.Errorf("raftstore: dial %s: %w", via, err)
		}
		conn.SetWriteDeadline(time.Time{})
		return conn, nil
	}
}

// DialStream opens a stream of an application kind (KindRequest) to the
// node at addr without a Node of one's own, for the CLI: mutual TLS with
// tlsConf, which must hold a certificate from the region's CA.
func DialStream(ctx context.Context, tlsConf *tls.Config, addr string, kind byte) (net.Conn, error) {
	if !applicationKinds[kind] {
		return nil, fmt.Errorf("raftstore: dial %s: stream kind %q is not an application kind", addr, kind)
	}
	conn, err := dialTCP(ctx, clientTLS(tlsConf), addr)
	if err != nil {
		return nil, fmt.Errorf("raftstore: dial %s: %w", addr, err)
	}
	if _, err := conn.Write([]byte{kind}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("raftstore: dial %s: %w", addr, err)
	}
	return conn, nil
}

// AdminAddNode asks the node at via to add node id at addr to every shard
// (see Node.AddNode). via need not lead anything.
func AdminAddNode(ctx context.Context, tlsConf *tls.Config, via, id, addr string) error {
	_, err := adminCall(ctx, adminDial(tlsConf, via), adminRequest{Op: opAdd, ID: id, Addr: addr})
	return wrapAdmin(via, err)
}

// AdminRemoveNode asks the node at via to remove node id from every shard
// (see Node.RemoveNode).
func AdminRemoveNode(ctx context.Context, tlsConf *tls.Config, via, id string) error {
	_, err := adminCall(ctx, adminDial(tlsConf, via), adminRequest{Op: opRemove, ID: id})
	return wrapAdmin(via, err)
}

// AdminMembers returns every shard's members and leader as the node at via
// sees them.
func AdminMembers(ctx context.Context, tlsConf *tls.Config, via string) ([]ShardMembers, error) {
	resp, err := adminCall(ctx, adminDial(tlsConf, via), adminRequest{Op: opMembers})
	return resp.Members, wrapAdmin(via, err)
}

func wrapAdmin(via string, err error) error {
	if err != nil {
		return fmt.Errorf("raftstore: via %s: %w", via, err)
	}
	return nil
}
