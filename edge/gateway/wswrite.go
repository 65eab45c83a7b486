package gateway

import (
	"bytes"
	"encoding/binary"

	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"

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
	case c.z != nil:
		op = websocket.BinaryMessage
		b = f.appendTo(b)
		b = append(b[:body], c.z.compress(b[body:])...)
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

// compressor is a connection's transport compression: every frame
// goes through one stream context, as zlib-stream and zstd-stream require.
type compressor struct {
	buf  bytes.Buffer
	zlib *zlib.Writer
	zstd *zstd.Encoder
}

// newCompressor returns the context for a ?compress= mode, nil for none.
func newCompressor(mode string) *compressor {
	z := &compressor{}
	switch mode {
	case "zlib-stream":
		z.zlib, _ = zlib.NewWriterLevel(&z.buf, zlib.BestSpeed)
	case "zstd-stream":
		z.zstd, _ = zstd.NewWriter(&z.buf, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithWindowSize(1<<17), zstd.WithLowerEncoderMem(true))
	default:
		return nil
	}
	return z
}

// compress runs one payload through the stream context and returns the
// flushed output, valid until the next call. Writes into a bytes.Buffer
// do not fail.
func (z *compressor) compress(p []byte) []byte {
	z.buf.Reset()
	if z.zlib != nil {
		_, _ = z.zlib.Write(p)
		_ = z.zlib.Flush()
	} else {
		_, _ = z.zstd.Write(p)
		_ = z.zstd.Flush()
	}
	return z.buf.Bytes()
}

// appendControl appends a control frame; payload is at most 125 bytes.
func appendControl(b []byte, op byte, payload []byte) []byte {
	b = append(b, 0x80|op, byte(len(payload)))
	return append(b, payload...)
}
