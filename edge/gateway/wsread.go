package gateway

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// wsReader decodes the frames a client sends (RFC 6455 §5) from whatever
// bytes each read returned, so that a connection needs no goroutine
// parked in a read between messages. It accepts exactly what gorilla's
// reader, used before (and still off Linux), accepted: masked frames, no
// RSV bits (no extension is negotiated), fragmented messages with control
// frames between the fragments, control frames of at most 125 bytes with
// FIN. FuzzClientFrames holds it to that, input by input.
//
// Its state between reads is a partial header and, only while a message
// is split across reads, the bytes of that message: an idle connection's
// decoder owns no buffer.
type wsReader struct {
	hdr  [14]byte // header bytes so far: 2, then 0, 2 or 8 of length, then 4 of mask key
	nhdr uint8
	// The frame whose payload is being read (inFrame).
	inFrame bool
	op      byte
	fin     bool
	key     [4]byte
	keyPos  uint8
	left    int64 // payload bytes of the frame still to come
	// The data message being read.
	frag     bool   // a message without FIN is open: the next data frame must continue it
	declared int64  // payload lengths its frame headers announced
	msgLen   int64  // payload bytes received
	msg      []byte // its bytes, when they span more than one read
	ctrl     []byte // a control frame's payload, when it spans more than one read
}

// RFC 6455 opcodes.
const (
	wsContinuation = 0
	wsText         = 1
	wsBinary       = 2
	wsClose        = 8
	wsPing         = 9
	wsPong         = 10
)

// wsProtocolError is a frame that breaks RFC 6455; the connection ends
// with close code 1002 and the error's text, as gorilla did.
type wsProtocolError string

func (e wsProtocolError) Error() string { return "websocket: " + string(e) }

// errStopped: the message callback asked feed to stop.
var errStopped = errors.New("gateway: stopped")

// feed decodes p, which it may unmask in place. It calls msg with each
// complete data message and ping with each ping's payload, in order; both
// slices are valid only during the call. It returns nil when p is used up
// (a frame may be left half read), errStopped when msg returned false, a
// *websocket.CloseError for the client's close frame, errTooLarge once a
// message passes maxClientPayload bytes, or a wsProtocolError. After an
// error the reader must not be fed again.
func (d *wsReader) feed(p []byte, msg func([]byte) bool, ping func([]byte)) error {
	for len(p) > 0 || (d.inFrame && d.left == 0) {
		if !d.inFrame {
			var err error
			if p, err = d.header(p); err != nil || !d.inFrame {
				return err
			}
			continue // an empty payload is complete at once
		}
		n := int(min(int64(len(p)), d.left))
		chunk := p[:n]
		p = p[n:]
		d.left -= int64(n)
		d.keyPos = unmask(d.key, d.keyPos, chunk)
		done := d.left == 0
		if done {
			d.inFrame = false
		}
		if d.op >= wsClose {
			if !done {
				d.ctrl = append(d.ctrl, chunk...)
				continue
			}
			if d.ctrl != nil {
				chunk = append(d.ctrl, chunk...)
				d.ctrl = nil
			}
			if err := d.control(chunk, ping); err != nil {
				return err
			}
			continue
		}
		// Like gorilla's reader behind io.LimitReader: the byte after
		// the limit, not a header announcing it, ends the connection.
		if d.msgLen+int64(n) > maxClientPayload {
			return errTooLarge
		}
		d.msgLen += int64(n)
		if !done || !d.fin || d.msg != nil {
			d.msg = append(d.msg, chunk...)
			if !done || !d.fin {
				continue
			}
			chunk = d.msg
		}
		d.msg = nil
		if !msg(chunk) {
			return errStopped
		}
	}
	return nil
}

// header consumes header bytes from p and returns the rest; d.inFrame
// tells whether the header is complete. Checks run in gorilla's order,
// each as soon as its bytes are in, so that a stream cut short fails the
// same way.
func (d *wsReader) header(p []byte) ([]byte, error) {
	take := func(upTo uint8) {
		n := copy(d.hdr[d.nhdr:upTo], p)
		d.nhdr += uint8(n)
		p = p[n:]
	}
	if d.nhdr < 2 {
		if take(2); d.nhdr < 2 {
			return p, nil
		}
		if err := d.check(); err != nil {
			return p, err
		}
	}
	ext := uint8(0)
	switch d.hdr[1] & 0x7f {
	case 126:
		ext = 2
	case 127:
		ext = 8
	}
	if d.nhdr < 2+ext {
		if take(2 + ext); d.nhdr < 2+ext {
			return p, nil
		}
		if ext == 8 && d.hdr[2]&0x80 != 0 {
			return p, errTooLarge // over 2⁶³; gorilla: ErrReadLimit
		}
	}
	if take(2 + ext + 4); d.nhdr < 2+ext+4 {
		return p, nil
	}
	switch ext {
	case 0:
		d.left = int64(d.hdr[1] & 0x7f)
	case 2:
		d.left = int64(binary.BigEndian.Uint16(d.hdr[2:]))
	case 8:
		d.left = int64(binary.BigEndian.Uint64(d.hdr[2:]))
	}
	copy(d.key[:], d.hdr[2+ext:])
	d.nhdr, d.keyPos, d.inFrame = 0, 0, true
	d.op, d.fin = d.hdr[0]&0xf, d.hdr[0]&0x80 != 0
	if d.op < wsClose {
		if d.op != wsContinuation {
			d.declared, d.msgLen = 0, 0
		}
		if d.declared += d.left; d.declared < 0 {
			return p, errTooLarge // gorilla: ErrReadLimit on overflow
		}
	}
	return p, nil
}

// check validates a frame's first two bytes, reporting every fault as
// gorilla does, and tracks fragmentation.
func (d *wsReader) check() error {
	b0, b1 := d.hdr[0], d.hdr[1]
	var errs []string
	if b0&0x40 != 0 {
		errs = append(errs, "RSV1 set")
	}
	if b0&0x20 != 0 {
		errs = append(errs, "RSV2 set")
	}
	if b0&0x10 != 0 {
		errs = append(errs, "RSV3 set")
	}
	fin := b0&0x80 != 0
	switch op := b0 & 0xf; op {
	case wsClose, wsPing, wsPong:
		if b1&0x7f > 125 {
			errs = append(errs, "len > 125 for control")
		}
		if !fin {
			errs = append(errs, "FIN not set on control")
		}
	case wsText, wsBinary:
		if d.frag {
			errs = append(errs, "data before FIN")
		}
		d.frag = !fin
	case wsContinuation:
		if !d.frag {
			errs = append(errs, "continuation after FIN")
		}
		d.frag = !fin
	default:
		errs = append(errs, "bad opcode "+strconv.Itoa(int(op)))
	}
	if b1&0x80 == 0 {
		errs = append(errs, "bad MASK")
	}
	if len(errs) > 0 {
		return wsProtocolError(strings.Join(errs, ", "))
	}
	return nil
}

// control acts on a complete control frame's payload.
func (d *wsReader) control(payload []byte, ping func([]byte)) error {
	switch d.op {
	case wsPing:
		ping(payload)
	case wsClose:
		code, text := websocket.CloseNoStatusReceived, ""
		if len(payload) >= 2 {
			code = int(binary.BigEndian.Uint16(payload))
			if !validCloseCode(code) {
				return wsProtocolError("bad close code " + strconv.Itoa(code))
			}
			text = string(payload[2:])
			if !utf8.ValidString(text) {
				return wsProtocolError("invalid utf8 payload in close frame")
			}
		}
		return &websocket.CloseError{Code: code, Text: text}
	}
	return nil // a pong: nothing was asked
}

// validCloseCode is gorilla's rule for a close code a peer may send.
func validCloseCode(code int) bool {
	switch code {
	case 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013:
		return true
	}
	return code >= 3000 && code <= 4999
}

// unmask applies the masking key from position pos and returns the next
// position.
func unmask(key [4]byte, pos uint8, b []byte) uint8 {
	for i := range b {
		b[i] ^= key[(int(pos)+i)&3]
	}
	return uint8((int(pos) + len(b)) & 3)
}
