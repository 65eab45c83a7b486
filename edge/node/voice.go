package node

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/edge/sfu/discordudp"
	"github.com/accord-chat/accord/edge/sfu/webrtcpeer"
	"github.com/accord-chat/accord/edge/voice"
	"github.com/accord-chat/accord/internal/config"
	"github.com/accord-chat/accord/turn"
)

// media is the node's media plane: the UDP socket all WebRTC and native
// voice share, the transports on it, the voice gateway and the embedded TURN server.
type media struct {
	udp       net.PacketConn
	transport *webrtcpeer.Transport
	voice     *voice.Server
	turn      *turn.Server // nil with voice.turn: off
}

// turnCredentialTTL: a client gets TURN credentials with each voice
// session; they must outlast ICE restarts of a long call but not be
// worth stealing.
const turnCredentialTTL = 10 * time.Minute

func openMedia(cfg config.Config, log *slog.Logger, reg prometheus.Registerer, eng *engine.Engine, key []byte, nodeName string) (*media, error) {
	udpAddr := cfg.Voice.UDP
	if udpAddr == "" {
		udpAddr = cfg.Listen
	}
	udp, err := net.ListenPacket("udp", udpAddr)
	if err != nil {
		return nil, fmt.Errorf("voice udp: %w", err)
	}
	// Bots' native UDP voice and WebRTC share the one port: the mux takes
	// Discord's packets out of what WebRTC's ICE reads.
	native := discordudp.NewMux(udp, log.With("component", "voice-udp"))
	native.Register(reg)
	m := &media{udp: udp}
	m.transport, err = webrtcpeer.New(webrtcpeer.Config{UDP: native, PublicIPs: cfg.Voice.PublicIPs, Logger: log.With("component", "webrtc"), Registerer: reg})
	if err != nil {
		udp.Close()
		return nil, err
	}
	var ice func(engine.ID) []voice.ICEServer
	if cfg.Voice.TURN != "off" {
		if m.turn, ice, err = openTURN(cfg, log, reg, key, udp.LocalAddr()); err != nil {
			m.transport.Close()
			return nil, err
		}
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil {
		m.close()
		return nil, fmt.Errorf("public_url: %w", err)
	}
	mediaIP := ""
	if len(cfg.Voice.PublicIPs) > 0 {
		mediaIP = cfg.Voice.PublicIPs[0]
	}
	m.voice, err = voice.New(voice.Config{Engine: eng, Transport: m.transport, Native: native, MediaIP: mediaIP, Key: key, NodeName: nodeName,
		Endpoint: u.Host + "/voice", Peers: eng.NodeEndpoint, ICEServers: ice, Logger: log.With("component", "voice"), Registerer: reg})
	if err != nil {
		m.close()
		return nil, err
	}
	return m, nil
}

// openTURN starts the embedded TURN server. Its relays may reach this
// node's own media address (loopback or private as it may be) and
// nothing else that is not public.
func openTURN(cfg config.Config, log *slog.Logger, reg prometheus.Registerer, key []byte, sfu net.Addr) (*turn.Server, func(engine.ID) []voice.ICEServer, error) {
	secret, err := turnSecret(cfg, key)
	if err != nil {
		return nil, nil, err
	}
	addr, defaulted := cfg.Voice.TURN, cfg.Voice.TURN == ""
	if defaulted {
		host, port, _ := net.SplitHostPort(cfg.Listen)
		if port != "0" {
			port = "3478"
		}
		addr = net.JoinHostPort(host, port)
	}
	host, _, _ := net.SplitHostPort(addr)
	relayIP := net.ParseIP(host)
	if len(cfg.Voice.PublicIPs) > 0 {
		relayIP = net.ParseIP(cfg.Voice.PublicIPs[0])
	}
	if relayIP == nil || relayIP.IsUnspecified() {
		return nil, nil, fmt.Errorf("voice.turn %s: relays need an IP clients can reach; set voice.public_ips", addr)
	}
	var allow []netip.Prefix
	if ap, err := netip.ParseAddrPort(sfu.String()); err == nil {
		allow = append(allow, netip.PrefixFrom(ap.Addr().Unmap(), ap.Addr().Unmap().BitLen()))
	}
	for _, ip := range cfg.Voice.PublicIPs {
		if a, err := netip.ParseAddr(ip); err == nil {
			allow = append(allow, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	tc := turn.Config{Realm: "accord", Secret: secret, UDPAddr: addr, TCPAddr: addr,
		RelayIP: relayIP, RelayBind: host, AllowPeers: allow, Registerer: reg}
	srv, err := turn.New(tc, log.With("component", "turn"))
	if err != nil && defaulted && errors.Is(err, syscall.EADDRINUSE) {
		// Another node on this machine has 3478. Clients get the port in
		// Ready, so any port serves; an operator who needs a fixed one
		// (firewalls) sets voice.turn.
		tc.UDPAddr = net.JoinHostPort(host, "0")
		tc.TCPAddr = tc.UDPAddr
		log.Info("TURN port 3478 in use; TURN on a free port", "set", "voice.turn")
		srv, err = turn.New(tc, log.With("component", "turn"))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("voice.turn: %w", err)
	}
	at := func(a net.Addr) string {
		_, port, _ := net.SplitHostPort(a.String())
		return net.JoinHostPort(relayIP.String(), port)
	}
	urls := []string{"turn:" + at(srv.UDPAddr()) + "?transport=udp", "turn:" + at(srv.TCPAddr()) + "?transport=tcp"}
	ice := func(uid engine.ID) []voice.ICEServer {
		c := turn.Issue(secret, strconv.FormatUint(uint64(uid), 10), time.Now(), turnCredentialTTL)
		return []voice.ICEServer{{URLs: urls, Username: c.Username, Credential: c.Password}}
	}
	return srv, ice, nil
}

// turnSecret is the configured secret, or one derived from the
// attachment key (every node of a region has the same).
func turnSecret(cfg config.Config, key []byte) ([]byte, error) {
	if cfg.Voice.TURNSecretFile != "" {
		b, err := os.ReadFile(cfg.Voice.TURNSecretFile)
		if err != nil {
			return nil, fmt.Errorf("voice.turn_secret_file: %w", err)
		}
		if s := strings.TrimSpace(string(b)); len(s) >= 16 {
			return []byte(s), nil
		}
		return nil, errors.New("voice.turn_secret_file: the secret must be at least 16 characters")
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("accord turn secret v1"))
	return []byte(hex.EncodeToString(m.Sum(nil))), nil
}

func (m *media) close() {
	if m.turn != nil {
		if err := m.turn.Close(); err != nil {
			slog.Debug("turn close", "err", err)
		}
	}
	_ = m.transport.Close()
	_ = m.udp.Close()
}

// publishers hands the engine's events to each of several publishers in
// turn (the gateway, then the voice gateway), keeping engine.Publisher's
// contract for each.
type publishers []engine.Publisher

func (ps publishers) Publish(evs []engine.Event) {
	for _, p := range ps {
		p.Publish(evs)
	}
}
