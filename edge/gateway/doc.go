// Package gateway serves Discord's Gateway (v10, and v9 for older
// libraries) over WebSocket: sessions (HELLO, IDENTIFY, READY, RESUME,
// heartbeats), intents and permission filtering, presence, member chunks,
// and the fan-out of the guild engine's events to every session that may
// see them.
//
// Fan-out rules: one event is rendered to JSON once (twice at most, when
// some recipients lack the MESSAGE_CONTENT intent); each recipient gets a
// small frame that points at the shared payload and carries its own
// sequence number. Frames are queued per connection (bounded) and written
// by one of a few long-lived writers (one per P), each frame batch with
// one write that never blocks; a connection whose socket is full gets a
// goroutine of its own until it drains. A connection whose queue
// overflows is closed: a slow reader never slows anyone else.
//
// Reads are readiness-driven on Linux: one epoll poller waits on every
// idle socket, and a goroutine exists for a connection only while its
// client's bytes are being read and handled, so an idle connection costs
// no goroutine. Gorilla/websocket does the handshake; the gateway decodes
// client frames (wsread.go) and encodes its own (wswrite.go). Elsewhere,
// for TLS, and with Config.GoroutineReaders, each connection has a reader
// goroutine blocked in gorilla's reader instead, and off Linux and for
// TLS a goroutine started per batch of frames writes them.
//
// The package holds no state of its own beyond sessions: it reads the
// engine, and what clients change (presence, voice state, the session
// records a resume on another node needs) it hands to the engine, which
// replicates it; it never touches the store or Raft.
package gateway
