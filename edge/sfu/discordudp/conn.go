package discordudp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"

	"github.com/accord-chat/accord/edge/sfu"
)

// Conn is one native voice session's media: an sfu.Subscriber for what
// the room sends it, and the source of its one audio track.
type Conn struct {
	m    *Mux
	SSRC uint32

	mu    sync.Mutex
	found []netip.AddrPort // addresses IP discovery came from (a few)

	crypt  atomic.Pointer[cryptor]
	to     atomic.Pointer[netip.AddrPort] // where its media goes; nil until proved
	track  atomic.Pointer[sfu.Track]
	nonce  atomic.Uint32
	closed atomic.Bool
}

// maxFound bounds the discovery addresses remembered per session.
const maxFound = 4

func (c *Conn) discovered(a netip.AddrPort) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.found, a) {
		if len(c.found) == maxFound {
			c.found = c.found[1:]
		}
		c.found = append(c.found, a)
	}
}

func (c *Conn) remote() netip.AddrPort {
	if p := c.to.Load(); p != nil {
		return *p
	}
	return netip.AddrPort{}
}

// ErrUndiscovered: Select Protocol named an address IP discovery never
// came from (media goes there only once a packet from it decrypts).
var ErrUndiscovered = errors.New("discordudp: address not seen in IP discovery")

// Start keys the session (Select Protocol chose mode; the server made
// key) and aims its media at the address the client says it has. That
// address is used at once only if IP discovery came from it; otherwise
// media waits for the first packet that decrypts, and Start reports
// ErrUndiscovered (not fatal).
func (c *Conn) Start(mode string, key [32]byte, addr netip.AddrPort) error {
	cr, err := newCryptor(mode, key)
	if err != nil {
		return err
	}
	c.crypt.Store(cr)
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	c.mu.Lock()
	ok := slices.Contains(c.found, addr)
	c.mu.Unlock()
	if !ok {
		return ErrUndiscovered
	}
	c.m.prove(c, addr)
	return nil
}

// SetTrack names the room track the session's packets are forwarded to.
func (c *Conn) SetTrack(t *sfu.Track) { c.track.Store(t) }

// Close stops the session's media: its packets are no longer taken and
// nothing more is sent to it.
func (c *Conn) Close() {
	c.track.Store(nil)
	c.m.forget(c)
}

// AddTrack (sfu.Subscriber): a native client receives audio only.
func (c *Conn) AddTrack(t *sfu.Track) (sfu.Sink, error) {
	if t.Kind != sfu.Audio {
		return nil, nil
	}
	return &sink{c: c, ssrc: t.Owner.SSRC}, nil
}

// RemoveTrack (sfu.Subscriber): a sink holds nothing to release.
func (c *Conn) RemoveTrack(*sfu.Track) {}

// sink sends one track to one native client. Its buffers belong to the
// track's forwarding goroutine (sfu.Sink's contract).
type sink struct {
	c     *Conn
	ssrc  uint32 // the sender's voice SSRC, as Speaking announces it
	hdr   [headerLen]byte
	nonce [24]byte
	buf   [maxPacket]byte
}

// WriteRTP encrypts p for the client under the sender's SSRC and Opus's
// payload type in Discord's voice, and sends it; it drops what the
// session cannot receive yet.
func (s *sink) WriteRTP(p *rtp.Packet) error {
	c := s.c
	cr, to := c.crypt.Load(), c.to.Load()
	if cr == nil || to == nil || c.closed.Load() || headerLen+len(p.Payload)+cr.overhead() > maxPacket {
		c.m.Stats.Dropped.Add(1)
		return nil
	}
	h := s.hdr[:]
	h[0], h[1] = 0x80, opusPT
	if p.Marker {
		h[1] |= 0x80
	}
	binary.BigEndian.PutUint16(h[2:], p.SequenceNumber)
	binary.BigEndian.PutUint32(h[4:], p.Timestamp)
	binary.BigEndian.PutUint32(h[8:], s.ssrc)
	out := cr.seal(s.buf[:0], &s.nonce, h, p.Payload, c.nonce.Add(1))
	c.m.Stats.Out.Add(1)
	c.m.Stats.BytesOut.Add(uint64(len(out)))
	c.m.write(out, *to)
	return nil
}
