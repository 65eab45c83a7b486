package discordudp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/accord-chat/accord/edge/sfu"
)

var key = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

// clientPacket seals payload as a client of the mode does, with a
// one-word header extension (as clients that send audio levels have).
func clientPacket(t *testing.T, mode string, ssrc uint32, seq uint16, payload []byte, withExt bool) []byte {
	t.Helper()
	cr, err := newCryptor(mode, key)
	if err != nil {
		t.Fatal(err)
	}
	h := make([]byte, headerLen)
	h[0], h[1] = 0x80, opusPT
	binary.BigEndian.PutUint16(h[2:], seq)
	binary.BigEndian.PutUint32(h[4:], uint32(seq)*960)
	binary.BigEndian.PutUint32(h[8:], ssrc)
	body := payload
	if withExt {
		h[0] |= 0x10
		extBody := []byte{0x10, 0x7f, 0, 0}
		if mode == ModeXSalsa20 {
			body = append(append([]byte{0xbe, 0xde, 0, 1}, extBody...), payload...)
		} else {
			h = append(h, 0xbe, 0xde, 0, 1)
			body = append(extBody, payload...)
		}
	}
	return cr.seal(nil, new([24]byte), h, body, uint32(seq)+7)
}

func TestModesRoundTrip(t *testing.T) {
	opus := []byte("an opus frame, more or less")
	for _, mode := range Modes {
		for _, ext := range []bool{false, true} {
			cr, _ := newCryptor(mode, key)
			pkt := clientPacket(t, mode, 42, 7, opus, ext)
			got, err := cr.open(make([]byte, 0, maxPacket), new([24]byte), pkt)
			if err != nil || !bytes.Equal(got, opus) {
				t.Fatalf("%s ext=%v: open = %q, %v", mode, ext, got, err)
			}
			for _, i := range []int{1, len(pkt) / 2, len(pkt) - 1} {
				bad := bytes.Clone(pkt)
				bad[i] ^= 0x40
				if _, err := cr.open(make([]byte, 0, maxPacket), new([24]byte), bad); err == nil && i != 1 {
					t.Errorf("%s ext=%v: a packet changed at byte %d decrypted", mode, ext, i)
				}
			}
			other := key
			other[0]++
			wrong, _ := newCryptor(mode, other)
			if _, err := wrong.open(make([]byte, 0, maxPacket), new([24]byte), pkt); err == nil {
				t.Errorf("%s: decrypted with another key", mode)
			}
		}
	}
	if _, err := newCryptor("xsalsa20_poly1305_lite", key); !errors.Is(err, ErrMode) {
		t.Errorf("unknown mode: %v", err)
	}
}

// recorder is a receiving participant that keeps what it gets.
type recorder struct {
	mu   sync.Mutex
	pkts []rtp.Packet
}

func (r *recorder) AddTrack(*sfu.Track) (sfu.Sink, error) { return r, nil }
func (r *recorder) RemoveTrack(*sfu.Track)                {}
func (r *recorder) WriteRTP(p *rtp.Packet) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := *p
	c.Payload = bytes.Clone(p.Payload)
	r.pkts = append(r.pkts, c)
	return nil
}
func (r *recorder) got() []rtp.Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rtp.Packet(nil), r.pkts...)
}

// rig is a Mux on a loopback socket, read the way pion's UDP mux reads
// it; passed collects what it let through.
type rig struct {
	mux    *Mux
	mu     sync.Mutex
	passed [][]byte
	done   chan struct{}
}

func newRig(t *testing.T) *rig {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{mux: NewMux(pc, nil), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		b := make([]byte, maxPacket)
		for {
			n, _, err := r.mux.ReadFrom(b)
			if err != nil {
				return
			}
			r.mu.Lock()
			r.passed = append(r.passed, bytes.Clone(b[:n]))
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() { r.mux.Close(); <-r.done })
	return r
}

func (r *rig) passedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.passed)
}

func client(t *testing.T, r *rig) *net.UDPConn {
	c, err := net.DialUDP("udp", nil, r.mux.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	return c
}

func discover(t *testing.T, c *net.UDPConn, ssrc uint32) netip.AddrPort {
	t.Helper()
	req := make([]byte, discovery)
	binary.BigEndian.PutUint16(req, 1)
	binary.BigEndian.PutUint16(req[2:], 70)
	binary.BigEndian.PutUint32(req[4:], ssrc)
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	resp := make([]byte, 200)
	n, err := c.Read(resp)
	if err != nil {
		t.Fatalf("no discovery answer: %v", err)
	}
	if n != discovery || binary.BigEndian.Uint16(resp) != 2 || binary.BigEndian.Uint32(resp[4:]) != ssrc {
		t.Fatalf("discovery answer %x", resp[:n])
	}
	ip := string(bytes.TrimRight(resp[8:72], "\x00"))
	ap, err := netip.ParseAddrPort(net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("discovery address %q", ip)
	}
	return netip.AddrPortFrom(ap.Addr(), binary.BigEndian.Uint16(resp[72:]))
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestNativeSessionBothWays: discovery tells the client its address;
// its encrypted Opus reaches another participant as plain RTP; what the
// room sends it arrives encrypted under the sender's SSRC; packets that
// are not native voice pass on to WebRTC untouched.
func TestNativeSessionBothWays(t *testing.T) {
	for _, mode := range Modes {
		t.Run(mode, func(t *testing.T) {
			r := newRig(t)
			cl := client(t, r)
			conn, err := r.mux.Expect(1001)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			self := discover(t, cl, 1001)
			if self != netip.MustParseAddrPort(cl.LocalAddr().String()) {
				t.Fatalf("discovered %v, the client is %v", self, cl.LocalAddr())
			}
			if err := conn.Start(mode, key, self); err != nil {
				t.Fatal(err)
			}
			room := sfu.NewRoom(nil)
			bot, _ := room.Join(1, 1001, conn)
			track, _ := bot.Publish(sfu.Audio, sfu.Microphone, sfu.Codec{MimeType: "audio/opus", ClockRate: 48000, Channels: 2}, 0)
			conn.SetTrack(track)
			rec := &recorder{}
			other, _ := room.Join(2, 1002, rec)

			for seq := uint16(1); seq <= 5; seq++ {
				if _, err := cl.Write(clientPacket(t, mode, 1001, seq, []byte{0xfc, byte(seq)}, seq%2 == 0)); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "the bot's packets in the room", func() bool { return len(rec.got()) == 5 })
			for i, p := range rec.got() {
				if !bytes.Equal(p.Payload, []byte{0xfc, byte(i + 1)}) || p.SSRC != 1001 || p.Extension {
					t.Fatalf("packet %d: %+v", i, p)
				}
			}

			// The other way: a packet of participant 2 reaches the client.
			otrack, _ := other.Publish(sfu.Audio, sfu.Microphone, sfu.Codec{MimeType: "audio/opus", ClockRate: 48000, Channels: 2}, 0)
			otrack.Forward(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 300, Timestamp: 9600, SSRC: 0xabcdef}, Payload: []byte("hello bot")})
			b := make([]byte, maxPacket)
			n, err := cl.Read(b)
			if err != nil {
				t.Fatalf("nothing reached the client: %v", err)
			}
			cr, _ := newCryptor(mode, key)
			payload, err := cr.open(make([]byte, 0, maxPacket), new([24]byte), b[:n])
			if err != nil || string(payload) != "hello bot" {
				t.Fatalf("client got %q, %v", payload, err)
			}
			if pt, ssrc := b[1]&0x7f, binary.BigEndian.Uint32(b[8:]); pt != opusPT || ssrc != 1002 {
				t.Fatalf("client got PT %d SSRC %d, want %d and the sender's voice SSRC 1002", pt, ssrc, opusPT)
			}

			// Not native: passes through.
			stun := make([]byte, 20)
			binary.BigEndian.PutUint16(stun, 1)
			binary.BigEndian.PutUint32(stun[4:], stunCookie)
			stranger := client(t, r)
			for _, p := range [][]byte{stun, []byte("garbage!"), clientPacket(t, mode, 1001, 9, []byte("x"), false)[:20]} {
				if _, err := stranger.Write(p); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "packets that are not native voice to pass", func() bool { return r.passedCount() == 3 })
		})
	}
}

// TestMediaGoesOnlyWhereProved: a client that names an address IP
// discovery never came from is not sent media there; a packet that
// decrypts proves its source; a forged packet from elsewhere does not
// move the session.
func TestMediaGoesOnlyWhereProved(t *testing.T) {
	r := newRig(t)
	cl, victim, attacker := client(t, r), client(t, r), client(t, r)
	conn, _ := r.mux.Expect(7)
	defer conn.Close()
	discover(t, cl, 7)
	if err := conn.Start(ModeAES256GCM, key, netip.MustParseAddrPort(victim.LocalAddr().String())); !errors.Is(err, ErrUndiscovered) {
		t.Fatalf("Start at an undiscovered address: %v", err)
	}
	room := sfu.NewRoom(nil)
	_, _ = room.Join(1, 7, conn)
	speaker, _ := room.Join(2, 8, &recorder{})
	tr, _ := speaker.Publish(sfu.Audio, sfu.Microphone, sfu.Codec{MimeType: "audio/opus"}, 0)
	send := func(seq uint16) {
		tr.Forward(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq}, Payload: []byte("m")})
	}
	send(1)
	_ = victim.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := victim.Read(make([]byte, 100)); err == nil {
		t.Fatalf("the named address got %d bytes before it was proved", n)
	}
	// A forged packet with the session's SSRC from the attacker moves nothing.
	forged := clientPacket(t, ModeAES256GCM, 7, 1, []byte("x"), false)
	forged[len(forged)-6] ^= 1
	_, _ = attacker.Write(forged)
	waitFor(t, "the forged packet to pass on", func() bool { return r.passedCount() == 1 })
	// The client's own packet proves its address.
	_, _ = cl.Write(clientPacket(t, ModeAES256GCM, 7, 2, []byte("x"), false))
	waitFor(t, "the client's address to be proved", func() bool { return conn.remote() == netip.MustParseAddrPort(cl.LocalAddr().String()) })
	send(2)
	if _, err := cl.Read(make([]byte, 100)); err != nil {
		t.Fatalf("the proved address got nothing: %v", err)
	}
	_ = attacker.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := attacker.Read(make([]byte, 100)); err == nil {
		t.Fatal("the attacker got media")
	}
	// Discovery for an SSRC nobody expects is not answered.
	req := make([]byte, discovery)
	binary.BigEndian.PutUint16(req, 1)
	binary.BigEndian.PutUint16(req[2:], 70)
	binary.BigEndian.PutUint32(req[4:], 999)
	_, _ = attacker.Write(req)
	if _, err := attacker.Read(make([]byte, 100)); err == nil {
		t.Fatal("discovery for an unknown SSRC was answered")
	}
}

func TestSendDoesNotAllocate(t *testing.T) {
	r := newRig(t)
	cl := client(t, r)
	conn, _ := r.mux.Expect(5)
	defer conn.Close()
	if err := conn.Start(ModeAES256GCM, key, discover(t, cl, 5)); err != nil {
		t.Fatal(err)
	}
	s, _ := conn.AddTrack(&sfu.Track{Kind: sfu.Audio, Owner: &sfu.Participant{SSRC: 6}})
	p := &rtp.Packet{Header: rtp.Header{Version: 2}, Payload: make([]byte, 80)}
	if n := testing.AllocsPerRun(200, func() { p.SequenceNumber++; _ = s.WriteRTP(p) }); n > 0 {
		t.Errorf("WriteRTP allocates %.1f times per packet", n)
	}
}

// FuzzTake: any datagram, from a proved address or not, is either taken
// or passed on, never a panic.
func FuzzTake(f *testing.F) {
	for _, mode := range Modes {
		f.Add(mode, []byte{})
	}
	f.Add(ModeAES256GCM, []byte{0x90, 120, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0xbe, 0xde, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	f.Add(ModeXSalsa20, []byte{0x8f, 120, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, mode string, p []byte) {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Skip(err)
		}
		m := NewMux(pc, nil)
		defer m.Close()
		c, _ := m.Expect(9)
		if c.Start(mode, key, netip.MustParseAddrPort("127.0.0.1:9")) != nil && mode != ModeXSalsa20 {
			_ = c.Start(ModeAES256GCM, key, netip.MustParseAddrPort("127.0.0.1:9"))
		}
		room := sfu.NewRoom(nil)
		part, _ := room.Join(1, 9, c)
		tr, _ := part.Publish(sfu.Audio, sfu.Microphone, sfu.Codec{}, 0)
		c.SetTrack(tr)
		_, _ = room.Join(2, 10, &recorder{})
		from := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
		m.take(p, from)
		m.prove(c, netip.MustParseAddrPort("127.0.0.1:9"))
		m.take(p, from)
	})
}
