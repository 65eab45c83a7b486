package webrtcpeer

import (
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/accord-chat/accord/internal/pionlog"
)

// Config configures a node's WebRTC transport.
type Config struct {
	// UDP is the socket every peer's ICE and media share (the node's
	// voice port). The transport reads it until Close.
	UDP net.PacketConn
	// PublicIPs, when set, are announced in candidates instead of the
	// socket's own address (a node behind 1:1 NAT).
	PublicIPs []string
	Logger    *slog.Logger
	// Registerer, when set, gets the transport's RTCP metrics.
	Registerer prometheus.Registerer
}

// Transport makes Peers; it holds the node's UDP mux.
type Transport struct {
	api *webrtc.API
	mux *ice.UDPMuxDefault
	log *slog.Logger

	// What receivers report about the tracks forwarded to them.
	nacked prometheus.Counter // packets asked for again (NACK)
	plis   prometheus.Counter // key frames asked for (PLI, FIR)
	loss   prometheus.Summary // fraction lost, per receiver report block
}

// New sets up the media engine (Opus; VP8, VP9, H264 with NACK, PLI,
// FIR, REMB and transport-cc feedback; the audio-level extension),
// pion's default interceptors and an ICE-lite agent on cfg.UDP.
func New(cfg Config) (*Transport, error) {
	if cfg.UDP == nil {
		return nil, errors.New("webrtcpeer: no UDP socket")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("webrtcpeer: codecs: %w", err)
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("webrtcpeer: audio level: %w", err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, fmt.Errorf("webrtcpeer: interceptors: %w", err)
	}
	logs := pionlog.Factory(cfg.Logger)
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: cfg.UDP, Logger: logs.NewLogger("udpmux")})
	se := webrtc.SettingEngine{LoggerFactory: logs}
	// ICE-lite: the server only answers checks at its one address; the
	// client (full ICE) does the probing and nominates.
	se.SetLite(true)
	se.SetICEUDPMux(mux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.SetIncludeLoopbackCandidate(true) // the single-process default is all loopback
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if len(cfg.PublicIPs) > 0 {
		se.SetNAT1To1IPs(cfg.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	t := &Transport{api: api, mux: mux, log: cfg.Logger,
		nacked: prometheus.NewCounter(prometheus.CounterOpts{Name: "accord_voice_nack_packets_total",
			Help: "Packets that WebRTC receivers asked for again (NACK) on forwarded tracks."}),
		plis: prometheus.NewCounter(prometheus.CounterOpts{Name: "accord_voice_keyframe_requests_total",
			Help: "Key frames WebRTC receivers asked for (PLI, FIR) on forwarded tracks."}),
		loss: prometheus.NewSummary(prometheus.SummaryOpts{Name: "accord_voice_receiver_loss_ratio",
			Help: "Fraction of packets lost on the way to WebRTC receivers, one observation per receiver report block (rate(_sum)/rate(_count) is the mean)."}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{t.nacked, t.plis, t.loss} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("webrtcpeer: metrics: %w", err)
			}
		}
	}
	return t, nil
}

// Addr is the UDP address media arrives at.
func (t *Transport) Addr() net.Addr {
	if as := t.mux.GetListenAddresses(); len(as) > 0 {
		return as[0]
	}
	return nil
}

// Close stops the UDP mux (and with it every peer's media).
func (t *Transport) Close() error { return t.mux.Close() }
