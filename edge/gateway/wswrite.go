package gateway

import (
	"encoding/binary"

	"github.com/gorilla/websocket"
)

// Server frames (RFC 6455 §5.2): never masked, never fragmented, so a
// frame is a 2-, 4- or 10-byte header and the payload.

// wsHeaderMax is the longest header.
const wsHeaderMax = 10

var headerRoom [wsHeaderMax]byte

// encode appends f to b as one WebSocket frame: a control frame as is,
// anything else as JSON text, or as binary through the connection's
// compression stream. The payload is rendered straight into b after room
// for the header, which is then moved up against it.
func (c *conn) encode(b []byte, f *frame) []byte {
	start := len(b)
	b = append(b, headerRoom[:]...)
	body := len(b)
	op := byte(websocket.TextMessage)
	switch {
	case f.ctrl != 0:
		op = f.ctrl
		b = append(b, f.raw...)
	case c.zmode != "":
		op = websocket.BinaryMessage
		b = f.appendTo(b)
		c.compress(b[body:])
		b = append(b[:body], c.zbuf.Bytes()...)
	default:
		b = f.appendTo(b)
	}
	n := len(b) - body
	var h [wsHeaderMax]byte
	h[0] = 0x80 | op // FIN
	hl := 2
	switch {
	case n <= 125:
		h[1] = byte(n)
	case n <= 0xffff:
		h[1] = 126
		binary.BigEndian.PutUint16(h[2:], uint16(n))
		hl = 4
	default:
		h[1] = 127
		binary.BigEndian.PutUint64(h[2:], uint64(n))
		hl = 10
	}
	copy(b[start:], h[:hl])
	copy(b[start+hl:], b[body:])
	return b[:start+hl+n]
}

// compress runs one payload through the connection's stream context,
// leaving the flushed output in c.zbuf. Writes into a bytes.Buffer do not
// fail.
func (c *conn) compress(p []byte) {
	c.zbuf.Reset()
	switch c.zmode {
	case "zlib-stream":
		_, _ = c.zlib.Write(p)
		_ = c.zlib.Flush()
	case "zstd-stream":
		_, _ = c.zstd.Write(p)
		_ = c.zstd.Flush()
	}
}

// appendControl appends a control frame; payload is at most 125 bytes.
func appendControl(b []byte, op byte, payload []byte) []byte {
	b = append(b, 0x80|op, byte(len(payload)))
	return append(b, payload...)
}
