package turn

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v4"

	"github.com/accord-chat/accord/internal/pionlog"
	"github.com/accord-chat/accord/internal/wait"
)

var secret = []byte("a shared secret of the region")

// start runs a server on 127.0.0.1 whose relays may reach 127.0.0.2
// only (standing in for the node's own SFU), as an edge node would
// allow its SFU's address and nothing else that is not public.
func start(t *testing.T, edit ...func(*Config)) *Server {
	t.Helper()
	cfg := Config{
		Secret:     secret,
		UDPAddr:    "127.0.0.1:0",
		TCPAddr:    "127.0.0.1:0",
		RelayIP:    net.IPv4(127, 0, 0, 1),
		AllowPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")},
	}
	for _, e := range edit {
		e(&cfg)
	}
	s, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// client is a pion TURN client over UDP (or, with tcp, over a TCP
// connection to the server) holding cred.
func client(t *testing.T, s *Server, cred Credential, tcp bool) *turn.Client {
	t.Helper()
	var conn net.PacketConn
	addr := s.UDPAddr().String()
	if tcp {
		addr = s.TCPAddr().String()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn = turn.NewSTUNConn(c)
	} else {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn = c
	}
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: cred.Username, Password: cred.Password, Realm: "accord",
		RTO: 100 * time.Millisecond, LoggerFactory: pionlog.Factory(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); _ = conn.Close() })
	return c
}

// peer is a UDP socket on ip, standing for what a relay talks to.
func peer(t *testing.T, ip string) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func read(t *testing.T, c net.PacketConn) ([]byte, net.Addr) {
	t.Helper()
	buf := make([]byte, 1500)
	_ = c.SetReadDeadline(time.Now().Add(wait.Patience))
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return buf[:n], from
}

// TestRelayBothWays: a client with a fresh credential allocates, over
// UDP and over TCP, and datagrams cross the relay to an allowed peer and
// back.
func TestRelayBothWays(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		name := map[bool]string{false: "udp", true: "tcp"}[tcp]
		t.Run(name, func(t *testing.T) {
			s := start(t)
			c := client(t, s, Issue(secret, "1234", time.Now(), time.Hour), tcp)
			relay, err := c.Allocate()
			if err != nil {
				t.Fatalf("allocate: %v", err)
			}
			defer relay.Close()
			p := peer(t, "127.0.0.2")
			if _, err := relay.WriteTo([]byte("to the sfu"), p.LocalAddr()); err != nil {
				t.Fatalf("relay write: %v", err)
			}
			got, from := read(t, p)
			if string(got) != "to the sfu" {
				t.Fatalf("peer got %q", got)
			}
			if from.String() != relay.LocalAddr().String() {
				t.Fatalf("peer heard from %v, the relay is %v", from, relay.LocalAddr())
			}
			if _, err := p.WriteTo([]byte("from the sfu"), from); err != nil {
				t.Fatal(err)
			}
			if got, _ := read(t, relay); string(got) != "from the sfu" {
				t.Fatalf("client got %q", got)
			}
			if s.Allocations() != 1 {
				t.Fatalf("%d allocations, want 1", s.Allocations())
			}
		})
	}
}

// TestCredentialsRefused: an expired credential, a forged password, a
// credential made with another secret and a username outside the scheme
// get no allocation.
func TestCredentialsRefused(t *testing.T) {
	s := start(t)
	good := Issue(secret, "1234", time.Now(), time.Hour)
	for name, cred := range map[string]Credential{
		"expired":      Issue(secret, "1234", time.Now().Add(-2*time.Hour), time.Hour),
		"forged":       {Username: good.Username, Password: strings.Repeat("A", len(good.Password))},
		"other secret": Issue([]byte("not the region's"), "1234", time.Now(), time.Hour),
		"longer life":  {Username: "9999999999:1234", Password: good.Password},
		"no expiry":    {Username: "1234", Password: password(secret, "1234")},
	} {
		t.Run(name, func(t *testing.T) {
			c := client(t, s, cred, false)
			if relay, err := c.Allocate(); err == nil {
				relay.Close()
				t.Fatalf("allocated with a bad credential")
			}
		})
	}
	if s.Allocations() != 0 {
		t.Fatalf("%d allocations", s.Allocations())
	}
}

// TestNoRelayIntoPrivateNetworks: permissions for loopback, private,
// link-local, multicast and shared-address peers are refused; the one
// allowed range is not.
func TestNoRelayIntoPrivateNetworks(t *testing.T) {
	s := start(t)
	c := client(t, s, Issue(secret, "1234", time.Now(), time.Hour), false)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	for _, ip := range []string{"127.0.0.1", "127.0.0.3", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "224.0.0.1", "0.0.0.0"} {
		if err := c.CreatePermission(&net.UDPAddr{IP: net.ParseIP(ip), Port: 9}); err == nil {
			t.Errorf("permission to %s granted", ip)
		}
	}
	// The TURN server itself is loopback too: no relaying into it.
	if err := c.CreatePermission(s.UDPAddr()); err == nil {
		t.Errorf("permission to the server's own address granted")
	}
	if err := c.CreatePermission(&net.UDPAddr{IP: net.ParseIP("127.0.0.2"), Port: 9}); err != nil {
		t.Errorf("permission to the allowed peer refused: %v", err)
	}
}

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "1.1.1.1": true, "2001:4860:4860::8888": true, "203.0.114.1": true,
		"127.0.0.1": false, "::1": false, "10.0.0.1": false, "172.31.255.255": false, "192.168.0.1": false,
		"169.254.1.1": false, "fe80::1": false, "fc00::1": false, "fd12::1": false, "224.0.0.251": false,
		"ff02::1": false, "0.0.0.0": false, "::": false, "100.100.100.100": false, "255.255.255.255": false,
		"198.18.0.1": false, "::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "240.0.0.1": false,
	} {
		if got := Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestAllocationQuota: a user gets MaxAllocationsPerUser allocations and
// no more, another user is not affected, and a freed one can be had again.
func TestAllocationQuota(t *testing.T) {
	s := start(t, func(c *Config) { c.MaxAllocationsPerUser = 2 })
	var relays []net.PacketConn
	for i := 0; i < 2; i++ {
		r, err := client(t, s, Issue(secret, "1234", time.Now(), time.Hour), false).Allocate()
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		relays = append(relays, r)
	}
	if r, err := client(t, s, Issue(secret, "1234", time.Now(), time.Hour), false).Allocate(); err == nil {
		r.Close()
		t.Fatal("a third allocation for the same user")
	}
	other, err := client(t, s, Issue(secret, "5678", time.Now(), time.Hour), false).Allocate()
	if err != nil {
		t.Fatalf("another user: %v", err)
	}
	defer other.Close()
	relays[0].Close() // deallocates (a Refresh with lifetime 0)
	wait.For(t, "the freed allocation to be counted", func() bool { return s.Allocations() == 2 })
	r, err := client(t, s, Issue(secret, "1234", time.Now(), time.Hour), false).Allocate()
	if err != nil {
		t.Fatalf("after freeing one: %v", err)
	}
	r.Close()
	relays[1].Close()
}

// TestBandwidthCap: a burst far past an allocation's cap reaches the
// peer only up to the cap's burst plus what the rate allows meanwhile.
func TestBandwidthCap(t *testing.T) {
	const bitrate = 800_000 // 100 kB/s; the burst is its floor, 64 KiB
	s := start(t, func(c *Config) { c.MaxBitrate = bitrate })
	c := client(t, s, Issue(secret, "1234", time.Now(), time.Hour), false)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	p := peer(t, "127.0.0.2")
	if err := c.CreatePermission(p.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	packet := bytes.Repeat([]byte{7}, 1000)
	begin := time.Now()
	const sent = 2000 // 2 MB
	for i := 0; i < sent; i++ {
		if _, err := relay.WriteTo(packet, p.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			runtime.Gosched()
		}
	}
	got := 0
	buf := make([]byte, 1500)
	for {
		_ = p.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if _, _, err := p.ReadFrom(buf); err != nil {
			break
		}
		got++
	}
	allowed := (64<<10 + int(time.Since(begin).Seconds()*bitrate/8)) / len(packet)
	if got == 0 || got > allowed+5 {
		t.Fatalf("peer got %d of %d packets; the cap allows %d", got, sent, allowed)
	}
	t.Logf("peer got %d of %d packets (cap allows %d)", got, sent, allowed)
}

// TestGarbageIsIgnored: datagrams and TCP streams that are not STUN,
// or STUN cut short, do not stop the server from serving the next client.
func TestGarbageIsIgnored(t *testing.T) {
	s := start(t)
	u, err := net.Dial("udp", s.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	tc, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	for _, g := range garbage() {
		_, _ = u.Write(g)
		_, _ = tc.Write(g)
	}
	for _, tcp := range []bool{false, true} {
		r, err := client(t, s, Issue(secret, "1234", time.Now(), time.Hour), tcp).Allocate()
		if err != nil {
			t.Fatalf("after garbage (tcp %v): %v", tcp, err)
		}
		r.Close()
	}
}

// garbage is malformed STUN: empty, short headers, wrong magic cookie,
// lengths past the datagram, attributes past the message, channel data
// with a huge length, and noise.
func garbage() [][]byte {
	hdr := func(typ uint16, length uint16, cookie uint32) []byte {
		b := []byte{byte(typ >> 8), byte(typ), byte(length >> 8), byte(length), byte(cookie >> 24), byte(cookie >> 16), byte(cookie >> 8), byte(cookie)}
		return append(b, bytes.Repeat([]byte{1}, 12)...)
	}
	out := [][]byte{
		{}, {0}, {0, 1, 0},
		hdr(0x0003, 0, 0x2112A442)[:10],
		hdr(0x0003, 0, 0xdeadbeef),
		hdr(0x0003, 400, 0x2112A442),
		append(hdr(0x0003, 8, 0x2112A442), 0x00, 0x06, 0xff, 0xff, 'x', 'y', 'z', 'w'),
		{0x40, 0x00, 0xff, 0xff, 1, 2, 3},
		bytes.Repeat([]byte{0xff}, 1400),
	}
	for i := 0; i < 64; i++ {
		b := hdr(uint16(i*37), uint16(i*4), 0x2112A442)
		out = append(out, append(b, bytes.Repeat([]byte{byte(i)}, i*4)...))
	}
	return out
}

// FuzzCheck: no username the fuzzer makes panics Check, and whatever
// it accepts is unexpired and of the form expiry:user.
func FuzzCheck(f *testing.F) {
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	f.Add(Issue(secret, "1234", now, time.Hour).Username)
	f.Add("1:2")
	f.Add(":")
	f.Add("99999999999999999999:x")
	f.Add("-5:x")
	f.Fuzz(func(t *testing.T, username string) {
		user, pass, err := Check(secret, username, now)
		if err != nil {
			return
		}
		exp, u, ok := strings.Cut(username, ":")
		if !ok || u != user || user == "" || exp == "" || pass != password(secret, username) {
			t.Fatalf("accepted %q as user %q", username, user)
		}
	})
}
