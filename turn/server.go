package turn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/turn/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/accord-chat/accord/internal/pionlog"
)

// Config configures a TURN server. Secret and at least one listener
// address are required.
type Config struct {
	// Realm is the STUN realm (RFC 8489); clients show it, nothing more.
	Realm string
	// Secret is the shared secret of the TURN REST scheme: whoever issues
	// credentials (the edge nodes) and every TURN server hold the same.
	Secret []byte
	// UDPAddr, TCPAddr and TLSAddr are listen addresses (host:port); an
	// empty one is not listened on. TLSAddr needs TLS.
	UDPAddr, TCPAddr, TLSAddr string
	TLS                       *tls.Config
	// RelayIP is the address clients are told to send to for their
	// relays: the machine's public IP (NAT 1:1). RelayBind is the local
	// IP relays listen on (default: RelayIP).
	RelayIP   net.IP
	RelayBind string
	// MinPort and MaxPort bound relay ports (both zero: any free port).
	MinPort, MaxPort uint16
	// AllowPeers are address ranges relays may reach although they are
	// loopback, private, link-local or otherwise not public. An edge node
	// adds its own SFU's address.
	AllowPeers []netip.Prefix
	// MaxAllocationsPerUser caps a user's concurrent allocations across
	// this server (default 5; a client makes one or two per session).
	MaxAllocationsPerUser int
	// MaxBitrate caps each allocation's relayed traffic, each way, in
	// bits per second (default 5 Mbit/s: a 1080p screen share and voice).
	MaxBitrate int64
	// Now is the clock credentials are checked against (default time.Now).
	Now func() time.Time
	// Registerer, if set, gets the server's metrics.
	Registerer prometheus.Registerer
}

// Server is a running TURN server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	srv     *turn.Server
	udp     net.PacketConn
	tcp     net.Listener
	tlsL    net.Listener
	metrics *metrics

	mu     sync.Mutex
	byUser map[string]int // user → live allocations
}

// Errors of New.
var (
	ErrNoSecret    = errors.New("turn: no shared secret")
	ErrNoListeners = errors.New("turn: no listen address")
)

// New listens on the configured addresses and starts serving. Close
// stops it and every relay.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if len(cfg.Secret) == 0 {
		return nil, ErrNoSecret
	}
	if cfg.UDPAddr == "" && cfg.TCPAddr == "" && cfg.TLSAddr == "" {
		return nil, ErrNoListeners
	}
	if cfg.TLSAddr != "" && cfg.TLS == nil {
		return nil, errors.New("turn: a TLS listener needs a certificate")
	}
	if cfg.Realm == "" {
		cfg.Realm = "accord"
	}
	if cfg.MaxAllocationsPerUser == 0 {
		cfg.MaxAllocationsPerUser = 5
	}
	if cfg.MaxBitrate == 0 {
		cfg.MaxBitrate = 5_000_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RelayIP == nil {
		cfg.RelayIP = net.IPv4(127, 0, 0, 1)
	}
	if cfg.RelayBind == "" {
		cfg.RelayBind = cfg.RelayIP.String()
	}
	if cfg.MaxPort < cfg.MinPort {
		return nil, fmt.Errorf("turn: relay port range %d-%d is empty", cfg.MinPort, cfg.MaxPort)
	}
	s := &Server{cfg: cfg, log: log, byUser: map[string]int{}, metrics: newMetrics(cfg.Registerer)}
	gen := &relayGen{bind: cfg.RelayBind, ip: cfg.RelayIP, min: cfg.MinPort, max: cfg.MaxPort, bitrate: cfg.MaxBitrate, m: s.metrics}
	sc := turn.ServerConfig{
		Realm:         cfg.Realm,
		AuthHandler:   s.auth,
		QuotaHandler:  s.quota,
		LoggerFactory: pionlog.Factory(log),
		EventHandler: turn.EventHandler{
			OnAllocationCreated: func(_, _ net.Addr, _, username, _ string, _ net.Addr, _ int) { s.allocated(username, 1) },
			OnAllocationDeleted: func(_, _ net.Addr, _, username, _ string) { s.allocated(username, -1) },
			OnAuth: func(_, _ net.Addr, _, _, _ string, _ string, ok bool) {
				if !ok {
					s.metrics.authFailures.Inc()
				}
			},
		},
	}
	fail := func(err error) (*Server, error) {
		s.closeListeners()
		return nil, err
	}
	var err error
	if cfg.UDPAddr != "" {
		if s.udp, err = net.ListenPacket("udp", cfg.UDPAddr); err != nil {
			return fail(fmt.Errorf("turn: udp: %w", err))
		}
		sc.PacketConnConfigs = append(sc.PacketConnConfigs, turn.PacketConnConfig{PacketConn: s.udp, RelayAddressGenerator: gen, PermissionHandler: s.permit})
	}
	if cfg.TCPAddr != "" {
		tcpAddr := cfg.TCPAddr
		if host, port, _ := net.SplitHostPort(tcpAddr); port == "0" && tcpAddr == cfg.UDPAddr && s.udp != nil {
			// "Any port" for both: the same number for both if it is free,
			// as TURN servers usually run.
			if l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(s.udp.LocalAddr().(*net.UDPAddr).Port))); err == nil {
				s.tcp = l
			}
		}
		if s.tcp == nil {
			if s.tcp, err = net.Listen("tcp", tcpAddr); err != nil {
				return fail(fmt.Errorf("turn: tcp: %w", err))
			}
		}
		sc.ListenerConfigs = append(sc.ListenerConfigs, turn.ListenerConfig{Listener: s.tcp, RelayAddressGenerator: gen, PermissionHandler: s.permit})
	}
	if cfg.TLSAddr != "" {
		if s.tlsL, err = tls.Listen("tcp", cfg.TLSAddr, cfg.TLS); err != nil {
			return fail(fmt.Errorf("turn: tls: %w", err))
		}
		sc.ListenerConfigs = append(sc.ListenerConfigs, turn.ListenerConfig{Listener: s.tlsL, RelayAddressGenerator: gen, PermissionHandler: s.permit})
	}
	if s.srv, err = turn.NewServer(sc); err != nil {
		return fail(fmt.Errorf("turn: %w", err))
	}
	s.metrics.register(cfg.Registerer)
	return s, nil
}

func (s *Server) closeListeners() {
	if s.udp != nil {
		_ = s.udp.Close()
	}
	if s.tcp != nil {
		_ = s.tcp.Close()
	}
	if s.tlsL != nil {
		_ = s.tlsL.Close()
	}
}

// Close stops the server, its listeners and every relay.
func (s *Server) Close() error { return s.srv.Close() }

// UDPAddr, TCPAddr and TLSAddr are the bound listen addresses (nil when
// not listening): with port 0 in the config, the port chosen.
func (s *Server) UDPAddr() net.Addr {
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

func (s *Server) TCPAddr() net.Addr { return listenAddr(s.tcp) }
func (s *Server) TLSAddr() net.Addr { return listenAddr(s.tlsL) }

func listenAddr(l net.Listener) net.Addr {
	if l == nil {
		return nil
	}
	return l.Addr()
}

// Allocations is the number of live allocations.
func (s *Server) Allocations() int { return s.srv.AllocationCount() }

// auth derives the STUN long-term key for a REST-scheme username.
func (s *Server) auth(username, realm string, src net.Addr) ([]byte, bool) {
	_, pass, err := Check(s.cfg.Secret, username, s.cfg.Now())
	if err != nil {
		s.log.Debug("turn: credential refused", "from", src, "err", err)
		return nil, false
	}
	return turn.GenerateAuthKey(username, realm, pass), true
}

// quota admits an allocation while the user holds fewer than the cap.
// Two allocations racing past it at once can exceed it by one; the cap
// bounds abuse, it is not an accounting.
func (s *Server) quota(username, _ string, src net.Addr) bool {
	user := userOf(username)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byUser[user] >= s.cfg.MaxAllocationsPerUser {
		s.log.Debug("turn: allocation quota reached", "user", user, "from", src)
		s.metrics.quotaRefusals.Inc()
		return false
	}
	return true
}

func (s *Server) allocated(username string, d int) {
	user := userOf(username)
	s.mu.Lock()
	s.byUser[user] += d
	if s.byUser[user] <= 0 {
		delete(s.byUser, user)
	}
	s.mu.Unlock()
	s.metrics.allocations.Add(float64(d))
}

func userOf(username string) string {
	if _, u, ok := strings.Cut(username, ":"); ok {
		return u
	}
	return username
}

// permit refuses relaying to addresses that are not public unless the
// operator allowed their range: a relay into the node's own network
// would let any credential holder reach services that trust it.
func (s *Server) permit(client net.Addr, peer net.IP) bool {
	a, ok := netip.AddrFromSlice(peer)
	if !ok {
		return false
	}
	a = a.Unmap()
	if Public(a) {
		return true
	}
	for _, p := range s.cfg.AllowPeers {
		if p.Contains(a) {
			return true
		}
	}
	s.log.Debug("turn: relay to a non-public peer refused", "from", client, "peer", a)
	s.metrics.peerRefusals.Inc()
	return false
}

// notPublic are ranges that IsPrivate and friends do not cover but that
// are no more public: shared address space (RFC 6598), IETF protocol
// assignments, benchmarking, the "this network" block and 6to4 relays.
var notPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("100::/64"),
}

// Public reports whether a relay may reach a without the operator's
// leave: not loopback, private (RFC 1918, ULA), link-local, multicast,
// unspecified, broadcast or one of the special-use ranges above.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return false
	}
	for _, p := range notPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}
