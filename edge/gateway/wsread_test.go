package gateway

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// clientFrame encodes one frame as a client sends it: masked, with the
// shortest length encoding unless ext forces 2 or 8 length bytes.
func clientFrame(op byte, fin bool, payload []byte, ext int) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case ext == 8 || n > 0xffff:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	case ext == 2 || n > 125:
		out = append(out, 0x80|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, 0x80|byte(n))
	}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	out = append(out, key[:]...)
	start := len(out)
	out = append(out, payload...)
	unmask(key, 0, out[start:])
	return out
}

func frames(fs ...[]byte) []byte { return bytes.Join(fs, nil) }

// decodeWithGorilla reads stream as gorilla's server side did before
// readiness-driven reads (readPayload, in a loop), and returns what it
// saw: messages and pings in order, then how it ended.
func decodeWithGorilla(tb testing.TB, stream []byte) []string {
	up := websocket.Upgrader{ReadBufferSize: 512, CheckOrigin: func(*http.Request) bool { return true }}
	req := httptest.NewRequest("GET", "/gateway", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	ws, err := up.Upgrade(&hijacker{conn: &streamConn{r: bytes.NewReader(stream)}}, req, nil)
	if err != nil {
		tb.Fatal(err)
	}
	var log []string
	ws.SetPingHandler(func(p string) error { log = append(log, "ping "+p); return nil })
	for {
		data, err := readPayload(ws)
		if err == nil {
			log = append(log, "message "+string(data))
			continue
		}
		var ce *websocket.CloseError
		switch {
		case errors.As(err, &ce) && ce.Code == websocket.CloseAbnormalClosure:
			return append(log, "end of input")
		case errors.As(err, &ce):
			return append(log, fmt.Sprintf("close %d %q", ce.Code, ce.Text))
		case errors.Is(err, errTooLarge), errors.Is(err, websocket.ErrReadLimit):
			return append(log, "too large")
		}
		return append(log, err.Error())
	}
}

// decodeWithReader feeds stream to a wsReader in pieces whose sizes come
// from cuts, and returns what it saw in decodeWithGorilla's terms.
func decodeWithReader(stream, cuts []byte) []string {
	var d wsReader
	var log []string
	msg := func(b []byte) bool { log = append(log, "message "+string(b)); return true }
	ping := func(b []byte) { log = append(log, "ping "+string(b)) }
	stream = bytes.Clone(stream) // feed unmasks in place
	for i := 0; len(stream) > 0; i++ {
		n := len(stream)
		if len(cuts) > 0 {
			n = min(n, int(cuts[i%len(cuts)])+1)
		}
		err := d.feed(stream[:n], msg, ping)
		stream = stream[n:]
		var ce *websocket.CloseError
		switch {
		case err == nil:
			continue
		case errors.As(err, &ce):
			return append(log, fmt.Sprintf("close %d %q", ce.Code, ce.Text))
		case errors.Is(err, errTooLarge):
			return append(log, "too large")
		}
		return append(log, err.Error())
	}
	return append(log, "end of input")
}

// FuzzClientFrames: for any byte stream, however it is split into reads,
// the readiness-driven decoder sees the same messages, pings and ending
// (close frame, protocol error and its text, payload too large, or input
// exhausted) as gorilla's reader did.
func FuzzClientFrames(f *testing.F) {
	hb := []byte(`{"op":1,"d":null}`)
	big := bytes.Repeat([]byte("x"), maxClientPayload)
	closeMsg := func(code int, text string) []byte { return websocket.FormatCloseMessage(code, text) }
	for _, s := range [][]byte{
		clientFrame(wsText, true, hb, 0),
		frames(clientFrame(wsText, true, hb, 0), clientFrame(wsBinary, true, hb, 2), clientFrame(wsText, true, hb, 8)),
		frames(clientFrame(wsText, false, hb[:5], 0), clientFrame(wsPing, true, []byte("p"), 0),
			clientFrame(wsContinuation, false, nil, 0), clientFrame(wsPong, true, nil, 0), clientFrame(wsContinuation, true, hb[5:], 0)),
		frames(clientFrame(wsText, true, nil, 0), clientFrame(wsClose, true, closeMsg(1000, "bye"), 0)),
		clientFrame(wsClose, true, nil, 0),
		clientFrame(wsClose, true, []byte{3}, 0),
		clientFrame(wsClose, true, closeMsg(1005, ""), 0),
		clientFrame(wsClose, true, closeMsg(4200, "\xff"), 0),
		clientFrame(wsPing, true, bytes.Repeat([]byte("p"), 125), 0),
		clientFrame(wsPing, true, bytes.Repeat([]byte("p"), 126), 0),
		clientFrame(wsPing, false, nil, 0),
		clientFrame(3, true, nil, 0),
		clientFrame(wsContinuation, true, hb, 0),
		frames(clientFrame(wsText, false, hb, 0), clientFrame(wsText, true, hb, 0)),
		{0x81 | 0x40, 0x80, 1, 2, 3, 4},
		{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}, // unmasked
		clientFrame(wsText, true, big, 0),
		append(clientFrame(wsText, true, big, 0)[:4+4+maxClientPayload-1], 'x'),
		clientFrame(wsText, true, append(big, 'y'), 0),
		frames(clientFrame(wsText, false, big, 0), clientFrame(wsPing, true, nil, 0), clientFrame(wsContinuation, true, []byte("z"), 0)),
		frames(clientFrame(wsText, false, hb, 0), clientFrame(wsContinuation, true, nil, 8)[:10]),
		{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4},
		{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0},
		frames(clientFrame(wsText, false, hb, 0), []byte{0x80, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}),
	} {
		f.Add(s, []byte{})
		f.Add(s, []byte{0})
		f.Add(s, []byte{2, 6, 0, 200})
	}
	f.Fuzz(func(t *testing.T, stream, cuts []byte) {
		want := decodeWithGorilla(t, stream)
		if got := decodeWithReader(stream, cuts); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("stream %q in pieces %v:\nwsReader %q\ngorilla  %q", stream, cuts, got, want)
		}
	})
}

// streamConn is a net.Conn that reads a fixed stream and discards writes.
type streamConn struct{ r io.Reader }

func (c *streamConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *streamConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *streamConn) Close() error                     { return nil }
func (c *streamConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *streamConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *streamConn) SetDeadline(time.Time) error      { return nil }
func (c *streamConn) SetReadDeadline(time.Time) error  { return nil }
func (c *streamConn) SetWriteDeadline(time.Time) error { return nil }

// hijacker is an http.ResponseWriter that hands gorilla's Upgrade a
// streamConn.
type hijacker struct{ conn net.Conn }

func (h *hijacker) Header() http.Header         { return http.Header{} }
func (h *hijacker) Write(b []byte) (int, error) { return len(b), nil }
func (h *hijacker) WriteHeader(int)             {}
func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(h.conn)), nil
}
