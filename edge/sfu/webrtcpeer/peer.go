package webrtcpeer

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/accord-chat/accord/edge/sfu"
)

// ErrBadSDP: the client's session description could not be applied.
var ErrBadSDP = errors.New("webrtcpeer: bad session description")

// ErrNoOffer: an answer came when the server had no offer outstanding.
var ErrNoOffer = errors.New("webrtcpeer: answer without an offer")

// Signal sends a description of the server's to the client: typ is
// "offer" (a renegotiation) or "answer". It is called from the peer's
// negotiation goroutine and must not block for long.
type Signal func(typ, sdp string)

// Sources reports what the client publishes: a camera, a screen share.
// It is called from pion's goroutines, one change at a time.
type Sources func(video, screen bool)

// Peer is one participant's PeerConnection.
type Peer struct {
	tr      *Transport
	log     *slog.Logger
	pc      *webrtc.PeerConnection
	signal  Signal
	sources Sources
	part    atomic.Pointer[sfu.Participant]

	mu       sync.Mutex  // negotiation: one description at a time
	answered bool        // the client's first offer has been answered
	dirty    atomic.Bool // senders changed since the last offer

	smu     sync.Mutex
	senders map[*sfu.Track]*webrtc.RTPSender
	inbound map[*sfu.Track]bool

	kick      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// NewPeer makes a peer that signals through signal and reports its
// client's published sources through sources (may be nil).
func (t *Transport) NewPeer(signal Signal, sources Sources, log *slog.Logger) (*Peer, error) {
	pc, err := t.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("webrtcpeer: %w", err)
	}
	if log == nil {
		log = t.log
	}
	if sources == nil {
		sources = func(bool, bool) {}
	}
	p := &Peer{tr: t, log: log, pc: pc, signal: signal, sources: sources,
		senders: map[*sfu.Track]*webrtc.RTPSender{}, inbound: map[*sfu.Track]bool{},
		kick: make(chan struct{}, 1), done: make(chan struct{})}
	pc.OnTrack(p.onTrack)
	p.wg.Add(1)
	go p.run()
	return p, nil
}

// Attach names the participant the client's tracks are published as;
// call it before the first offer is handled.
func (p *Peer) Attach(part *sfu.Participant) { p.part.Store(part) }

// Connected reports whether ICE and DTLS are up.
func (p *Peer) Connected() bool { return p.pc.ConnectionState() == webrtc.PeerConnectionStateConnected }

// OnFailed calls fn once the connection has failed or closed.
func (p *Peer) OnFailed(fn func()) {
	var once sync.Once
	p.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			once.Do(fn)
		}
	})
}

// HandleOffer applies an offer of the client's and returns the answer.
// An offer crossing one of the server's (glare) wins: the server, the
// polite side, rolls its own back and offers again afterwards.
func (p *Peer) HandleOffer(offer string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
		if err := p.pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback}); err != nil {
			return "", fmt.Errorf("webrtcpeer: rollback: %w", err)
		}
		p.dirty.Store(true)
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	if err := p.setLocal(answer); err != nil {
		return "", err
	}
	p.answered = true
	if p.dirty.Load() {
		p.poke()
	}
	return p.pc.LocalDescription().SDP, nil
}

// HandleAnswer applies the client's answer to the server's offer.
func (p *Peer) HandleAnswer(answer string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		return ErrNoOffer
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	if p.dirty.Load() {
		p.poke()
	}
	return nil
}

// setLocal sets a local description and waits for the (one-address,
// ICE-lite) gathering, so that descriptions carry their candidates.
func (p *Peer) setLocal(d webrtc.SessionDescription) error {
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(d); err != nil {
		return fmt.Errorf("webrtcpeer: local description: %w", err)
	}
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
		return errors.New("webrtcpeer: candidate gathering timed out")
	}
	return nil
}

func (p *Peer) poke() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// run sends the server's offers when its tracks change, one at a time:
// a change while an offer is out waits for the answer.
func (p *Peer) run() {
	defer p.wg.Done()
	for {
		select {
		case <-p.done:
			return
		case <-p.kick:
			p.offer()
		}
	}
}

func (p *Peer) offer() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.answered || p.pc.SignalingState() != webrtc.SignalingStateStable || !p.dirty.Swap(false) {
		return // HandleOffer/HandleAnswer poke again when it is time
	}
	offer, err := p.pc.CreateOffer(nil)
	if err == nil {
		err = p.setLocal(offer)
	}
	if err != nil {
		if p.pc.ConnectionState() != webrtc.PeerConnectionStateClosed {
			p.log.Warn("renegotiation offer", "err", err)
		}
		return
	}
	p.signal("offer", p.pc.LocalDescription().SDP)
}

// trackID names an outgoing track by its source, unique per peer.
func trackID(t *sfu.Track) string {
	return t.Source.String() + "-" + strconv.FormatUint(t.Owner.UserID, 10)
}

// AddTrack (sfu.Subscriber) sends t to the client from now on; the
// client learns of it in the next offer.
func (p *Peer) AddTrack(t *sfu.Track) (sfu.Sink, error) {
	codec := webrtc.RTPCodecCapability{MimeType: t.Codec.MimeType, ClockRate: t.Codec.ClockRate, Channels: t.Codec.Channels, SDPFmtpLine: t.Codec.Fmtp}
	local, err := webrtc.NewTrackLocalStaticRTP(codec, trackID(t), strconv.FormatUint(t.Owner.UserID, 10))
	if err != nil {
		return nil, fmt.Errorf("webrtcpeer: %w", err)
	}
	sender, err := p.pc.AddTrack(local)
	if err != nil {
		p.log.Debug("add track", "track", trackID(t), "err", err)
		return nil, fmt.Errorf("webrtcpeer: %w", err)
	}
	p.smu.Lock()
	p.senders[t] = sender
	p.smu.Unlock()
	p.wg.Add(1)
	go p.readRTCP(t, sender)
	p.changed()
	return local, nil
}

// RemoveTrack (sfu.Subscriber) stops sending t.
func (p *Peer) RemoveTrack(t *sfu.Track) {
	p.smu.Lock()
	sender := p.senders[t]
	delete(p.senders, t)
	p.smu.Unlock()
	if sender == nil {
		return
	}
	if err := p.pc.RemoveTrack(sender); err != nil && p.pc.ConnectionState() != webrtc.PeerConnectionStateClosed {
		p.log.Debug("remove track", "track", trackID(t), "err", err)
	}
	p.changed()
}

// changed marks the senders changed and wakes the negotiation goroutine
// without taking its lock (AddTrack runs under the room's).
func (p *Peer) changed() {
	p.dirty.Store(true)
	p.poke()
}

// readRTCP feeds a sender's RTCP through the interceptors (NACKs are
// answered there) and asks the track's sender for a key frame when the
// receiver asks for one.
func (p *Peer) readRTCP(t *sfu.Track, s *webrtc.RTPSender) {
	defer p.wg.Done()
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch r := pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				p.tr.plis.Inc()
				t.RequestKeyFrame()
			case *rtcp.TransportLayerNack:
				n := 0
				for _, pair := range r.Nacks {
					n += len(pair.PacketList())
				}
				p.tr.nacked.Add(float64(n))
			case *rtcp.ReceiverReport:
				for _, rr := range r.Reports {
					p.tr.loss.Observe(float64(rr.FractionLost) / 256)
				}
			}
		}
	}
}

// onTrack publishes an incoming track and forwards its packets until
// it ends.
func (p *Peer) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	part := p.part.Load()
	if part == nil {
		return
	}
	kind, source := sfu.Audio, sfu.Microphone
	if remote.Kind() == webrtc.RTPCodecTypeVideo {
		kind, source = sfu.Video, sfu.Camera
		if strings.Contains(strings.ToLower(remote.ID()+" "+remote.StreamID()), "screen") {
			source = sfu.Screen
		}
	}
	var level uint8
	for _, ext := range recv.GetParameters().HeaderExtensions {
		if ext.URI == sdp.AudioLevelURI {
			level = uint8(ext.ID)
		}
	}
	c := remote.Codec()
	t, err := part.Publish(kind, source, sfu.Codec{MimeType: c.MimeType, ClockRate: c.ClockRate, Channels: c.Channels, Fmtp: c.SDPFmtpLine}, level)
	if err != nil {
		return
	}
	ssrc := uint32(remote.SSRC())
	var lastPLI atomic.Int64
	t.SetKeyFrameRequester(func() {
		// Several receivers asking at once make one request.
		now := time.Now().UnixNano()
		if last := lastPLI.Load(); now-last < int64(200*time.Millisecond) || !lastPLI.CompareAndSwap(last, now) {
			return
		}
		_ = p.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
	})
	p.smu.Lock()
	p.inbound[t] = true
	p.smu.Unlock()
	p.reportSources()
	if kind == sfu.Video {
		t.RequestKeyFrame()
	}

	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, _, err := remote.Read(buf)
		if err != nil {
			break
		}
		if pkt.Unmarshal(buf[:n]) != nil {
			continue // not RTP: dropped, the stream goes on
		}
		t.Forward(&pkt)
	}
	t.Unpublish()
	p.smu.Lock()
	delete(p.inbound, t)
	p.smu.Unlock()
	p.reportSources()
}

func (p *Peer) reportSources() {
	p.smu.Lock()
	video, screen := false, false
	for t := range p.inbound {
		video = video || t.Source == sfu.Camera
		screen = screen || t.Source == sfu.Screen
	}
	p.smu.Unlock()
	p.sources(video, screen)
}

// Close ends the connection and waits for the peer's goroutines.
func (p *Peer) Close() error {
	var err error
	p.closeOnce.Do(func() {
		err = p.pc.Close()
		close(p.done)
	})
	p.wg.Wait()
	return err
}
