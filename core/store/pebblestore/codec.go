package pebblestore

import (
	"bytes"
	"encoding/json"
	"errors"
	"sync"

	"github.com/accord-chat/accord/core/model"
)

// Values are the JSON of the model structs. Everything but messages is
// stored as bare JSON, which always starts with '{'; a future encoding can
// be told apart by a different first byte.
//
// A message value starts with a two-byte header, [format, flags], so that
// Commit can learn whether the previous version was pinned without
// decoding the JSON.
const (
	msgFormatJSON byte = 1
	msgFlagPinned byte = 1 << 0
	msgHeaderLen       = 2
)

var errCorrupt = errors.New("corrupt value")

// encoder is a reusable buffer and JSON encoder. Pebble copies keys and
// values into the batch, so the buffer can be reused as soon as Set returns.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false) // message content is full of <, > and &; don't bloat it
	return e
}}

func getEncoder() *encoder {
	e := encoders.Get().(*encoder)
	e.buf.Reset()
	return e
}

func putEncoder(e *encoder) {
	if e.buf.Cap() > 1<<20 { // don't pin a huge buffer in the pool
		return
	}
	encoders.Put(e)
}

// encode returns the JSON of v. The slice is only valid until e is reused.
func (e *encoder) encode(v any) ([]byte, error) {
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	return e.buf.Bytes(), nil
}

// encodeMessage returns the header and JSON of m. The slice is only valid
// until e is reused.
func (e *encoder) encodeMessage(m *model.Message) ([]byte, error) {
	e.buf.Reset()
	var flags byte
	if m.Pinned {
		flags |= msgFlagPinned
	}
	e.buf.WriteByte(msgFormatJSON)
	e.buf.WriteByte(flags)
	if err := e.enc.Encode(m); err != nil {
		return nil, err
	}
	return e.buf.Bytes(), nil
}

func decode[T any](v []byte) (*T, error) {
	x := new(T)
	if err := json.Unmarshal(v, x); err != nil {
		return nil, errors.Join(errCorrupt, err)
	}
	return x, nil
}

func decodeMessage(v []byte) (*model.Message, error) {
	if len(v) < msgHeaderLen || v[0] != msgFormatJSON {
		return nil, errCorrupt
	}
	return decode[model.Message](v[msgHeaderLen:])
}

// messagePinned reads the pinned flag from a stored message's header.
func messagePinned(v []byte) bool {
	return len(v) >= msgHeaderLen && v[1]&msgFlagPinned != 0
}
