package gateway

import (
	"strconv"
)

// shared is a rendered event payload ("d"), encoded once and shared by
// every recipient's frame and replay buffer.
type shared struct {
	t string // event name, "" for non-dispatch frames
	d []byte
	// The log position of the event it renders (idx 0: none), for
	// sessions' run tracking (see region.go).
	shard int
	idx   uint64
	// rerender, when set, renders the payload again: the replay ring keeps
	// a copy of the event without d, so that a connect storm's
	// GUILD_CREATEs (kilobytes each) do not wait in memory for every
	// client's first heartbeat. A resumed client gets the guild as it is
	// now, which is what it wants anyway.
	rerender func() *shared
}

// body returns d, rendering it again for a replay-ring copy.
func (p *shared) body() []byte {
	if p.d == nil && p.rerender != nil {
		if q := p.rerender(); q != nil {
			return q.d
		}
		return []byte("{}")
	}
	return p.d
}

// frame is one message queued to a connection. Dispatch frames carry the
// recipient's sequence number; the bytes are assembled only when written.
type frame struct {
	op     int
	seq    int64
	p      *shared
	raw    []byte // a complete non-dispatch payload (HELLO, ACK, ...)
	close  int    // non-zero: send this close code and end the connection
	reason string
	ctrl   byte // non-zero: a WebSocket control frame (a pong) carrying raw
}

// appendTo writes the frame's JSON into b.
func (f *frame) appendTo(b []byte) []byte {
	if f.raw != nil {
		return append(b, f.raw...)
	}
	b = append(b, `{"op":0,"s":`...)
	b = strconv.AppendInt(b, f.seq, 10)
	b = append(b, `,"t":"`...)
	b = append(b, f.p.t...)
	b = append(b, `","d":`...)
	b = append(b, f.p.body()...)
	return append(b, '}')
}

// opFrame makes a non-dispatch frame, e.g. {"op":11,"d":null}.
func opFrame(op int, d []byte) *frame {
	b := make([]byte, 0, len(d)+24)
	b = append(b, `{"op":`...)
	b = strconv.AppendInt(b, int64(op), 10)
	b = append(b, `,"s":null,"t":null,"d":`...)
	if d == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, d...)
	}
	b = append(b, '}')
	return &frame{op: op, raw: b}
}
