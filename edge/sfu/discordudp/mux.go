package discordudp

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"
)

// Mux is the node's voice socket with Discord's native voice taken out:
// it is a net.PacketConn whose ReadFrom returns only what is not
// Discord voice (for WebRTC's ICE mux), handling the rest itself.
//
// ReadFrom must be called from one goroutine at a time (pion's UDP mux
// reads from one); every other method is safe for concurrent use.
type Mux struct {
	net.PacketConn
	log *slog.Logger

	mu     sync.Mutex                               // serializes changes of the two maps
	bySSRC atomic.Pointer[map[uint32]*Conn]         // sessions expecting or sending media
	byAddr atomic.Pointer[map[netip.AddrPort]*Conn] // proved addresses
	out    interface {                              // the socket, when it can send without allocating
		WriteToUDPAddrPort([]byte, netip.AddrPort) (int, error)
	}

	// The read goroutine's own, reused per packet.
	plain [maxPacket]byte
	nonce [24]byte
	pkt   rtp.Packet
	reply [discovery]byte

	Stats Stats
}

// Stats counts native packets (all atomics).
type Stats struct {
	In, Out, Dropped, Discovery atomic.Uint64
	BytesIn, BytesOut           atomic.Uint64
}

// NewMux wraps the node's voice socket. Closing the Mux closes it.
func NewMux(conn net.PacketConn, log *slog.Logger) *Mux {
	if log == nil {
		log = slog.Default()
	}
	m := &Mux{PacketConn: conn, log: log}
	m.out, _ = conn.(interface {
		WriteToUDPAddrPort([]byte, netip.AddrPort) (int, error)
	})
	empty, none := map[uint32]*Conn{}, map[netip.AddrPort]*Conn{}
	m.bySSRC.Store(&empty)
	m.byAddr.Store(&none)
	return m
}

// Register adds the counters to reg.
func (m *Mux) Register(reg prometheus.Registerer) {
	counter := func(name, help string, v *atomic.Uint64) {
		_ = reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) }))
	}
	counter("accord_voice_udp_packets_in_total", "Native voice RTP packets received and decrypted.", &m.Stats.In)
	counter("accord_voice_udp_packets_out_total", "Native voice RTP packets sent.", &m.Stats.Out)
	counter("accord_voice_udp_bytes_in_total", "Bytes of native voice RTP received.", &m.Stats.BytesIn)
	counter("accord_voice_udp_bytes_out_total", "Bytes of native voice RTP sent.", &m.Stats.BytesOut)
	counter("accord_voice_udp_dropped_total", "Native voice packets dropped (undecryptable, unknown, RTCP, keepalives).", &m.Stats.Dropped)
	counter("accord_voice_udp_discovery_total", "IP discovery requests answered.", &m.Stats.Discovery)
}

// ReadFrom returns the next packet that is not Discord voice.
func (m *Mux) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := m.PacketConn.ReadFrom(b)
		if err != nil || !m.take(b[:n], addr) {
			return n, addr, err
		}
	}
}

// take handles p if it is Discord voice and reports whether it was.
func (m *Mux) take(p []byte, addr net.Addr) bool {
	ssrcs := *m.bySSRC.Load()
	if len(ssrcs) == 0 || len(p) < 8 {
		return false
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return false
	}
	from := netip.AddrPortFrom(ua.AddrPort().Addr().Unmap(), ua.AddrPort().Port())
	if len(p) == discovery && binary.BigEndian.Uint16(p) == 1 && binary.BigEndian.Uint16(p[2:]) == discovery-4 {
		ssrc := binary.BigEndian.Uint32(p[4:])
		if ssrc == stunCookie {
			return false // a STUN message that happens to be 74 bytes
		}
		if c := ssrcs[ssrc]; c != nil {
			m.discover(c, from)
		} else {
			m.Stats.Dropped.Add(1)
		}
		return true
	}
	c := (*m.byAddr.Load())[from]
	proved := c != nil
	if p[0]>>6 != 2 || len(p) < headerLen {
		if c != nil {
			m.Stats.Dropped.Add(1) // keepalives
			return true
		}
		return false
	}
	if c == nil {
		// Media from an address not yet proved: it is native only if it
		// decrypts with the key of the session its SSRC names.
		if c = ssrcs[binary.BigEndian.Uint32(p[8:])]; c == nil || c.crypt.Load() == nil {
			return false
		}
	}
	return m.media(c, p, from, proved)
}

// discover answers IP discovery with the address the request came from,
// and remembers it as one the session may be sent media at.
func (m *Mux) discover(c *Conn, from netip.AddrPort) {
	r := m.reply[:]
	clear(r)
	binary.BigEndian.PutUint16(r, 2)
	binary.BigEndian.PutUint16(r[2:], discovery-4)
	binary.BigEndian.PutUint32(r[4:], c.SSRC)
	copy(r[8:72], from.Addr().String())
	binary.BigEndian.PutUint16(r[72:], from.Port())
	c.discovered(from)
	m.Stats.Discovery.Add(1)
	m.write(r, from)
}

// media decrypts a session's packet and forwards it; RTCP and what does
// not decrypt are dropped. From an address not yet proved, only a packet
// that decrypts is taken (anything else may be WebRTC's).
func (m *Mux) media(c *Conn, p []byte, from netip.AddrPort, proved bool) bool {
	cr := c.crypt.Load()
	if cr == nil || (p[1] >= 200 && p[1] <= 204) || binary.BigEndian.Uint32(p[8:]) != c.SSRC {
		// RTCP: reports the SFU does not use; or not this session's.
		if proved {
			m.Stats.Dropped.Add(1)
		}
		return proved
	}
	payload, err := cr.open(m.plain[:0], &m.nonce, p)
	if err != nil {
		if proved {
			m.Stats.Dropped.Add(1)
		}
		return proved
	}
	if c.remote() != from {
		m.prove(c, from)
	}
	m.Stats.In.Add(1)
	m.Stats.BytesIn.Add(uint64(len(p)))
	t := c.track.Load()
	if t == nil {
		return true
	}
	h := &m.pkt.Header
	h.Version, h.Padding, h.Extension, h.Marker = 2, false, false, p[1]&0x80 != 0
	h.PayloadType = p[1] & 0x7f
	h.SequenceNumber = binary.BigEndian.Uint16(p[2:])
	h.Timestamp = binary.BigEndian.Uint32(p[4:])
	h.SSRC = c.SSRC
	h.CSRC, h.Extensions, h.ExtensionProfile = h.CSRC[:0], h.Extensions[:0], 0
	m.pkt.Payload = payload
	t.Forward(&m.pkt)
	return true
}

// prove makes from the address the session's media goes to (a NAT may
// have moved it) and the one its packets are known by.
func (m *Mux) prove(c *Conn, from netip.AddrPort) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.closed.Load() {
		return
	}
	old := *m.byAddr.Load()
	next := make(map[netip.AddrPort]*Conn, len(old)+1)
	for a, x := range old {
		if x != c && a != from {
			next[a] = x
		}
	}
	next[from] = c
	m.byAddr.Store(&next)
	c.to.Store(&from)
}

func (m *Mux) write(b []byte, to netip.AddrPort) {
	var err error
	if m.out != nil {
		_, err = m.out.WriteToUDPAddrPort(b, to)
	} else {
		_, err = m.PacketConn.WriteTo(b, net.UDPAddrFromAddrPort(to))
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		m.log.Debug("voice udp write", "to", to, "err", err)
	}
}

// Expect makes a session for the SSRC a voice Ready gave a client: IP
// discovery for it is answered from now on. Start gives it a key.
func (m *Mux) Expect(ssrc uint32) (*Conn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.bySSRC.Load()
	if old[ssrc] != nil {
		return nil, errors.New("discordudp: SSRC in use")
	}
	c := &Conn{m: m, SSRC: ssrc}
	next := make(map[uint32]*Conn, len(old)+1)
	for s, x := range old {
		next[s] = x
	}
	next[ssrc] = c
	m.bySSRC.Store(&next)
	return c, nil
}

func (m *Mux) forget(c *Conn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c.closed.Store(true)
	olds, olda := *m.bySSRC.Load(), *m.byAddr.Load()
	nexts := make(map[uint32]*Conn, len(olds))
	for s, x := range olds {
		if x != c {
			nexts[s] = x
		}
	}
	nexta := make(map[netip.AddrPort]*Conn, len(olda))
	for a, x := range olda {
		if x != c {
			nexta[a] = x
		}
	}
	m.bySSRC.Store(&nexts)
	m.byAddr.Store(&nexta)
}
