package voiceclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Options are what the client is told to do.
type Options struct {
	// URL is the voice gateway, ws://host:port/voice (the endpoint of
	// VOICE_SERVER_UPDATE with a scheme and ?v=8 added).
	URL                         string
	ServerID, UserID, SessionID string
	Token                       string
	// RelayOnly makes ICE use TURN relays only (the Ready's ice_servers).
	RelayOnly bool
	// ICEServers replace the Ready's (tests hand in bad credentials).
	ICEServers []webrtc.ICEServer
}

// Message is a voice gateway message the client received.
type Message struct {
	Op  int             `json:"op"`
	D   json.RawMessage `json:"d"`
	Seq *int64          `json:"seq,omitempty"`
}

// Stream is what arrived of one sender's track.
type Stream struct {
	Packets      int
	FirstSeq     uint16
	LastSeq      uint16
	LastTS       uint32
	Gaps         int // sequence numbers that did not follow the previous by one
	TSBackwards  int // timestamps that went back
	LastArrival  time.Time
	PayloadTypes map[uint8]bool
}

// Client is one voice connection.
type Client struct {
	opts  Options
	ws    *websocket.Conn
	wmu   sync.Mutex
	pc    *webrtc.PeerConnection
	audio *webrtc.TrackLocalStaticRTP
	send  *webrtc.RTPSender
	Ready map[string]any

	mu      sync.Mutex
	msgs    []Message
	streams map[string]*Stream // by sender's user ID (stream ID)
	seqAck  int64
	closeCh chan struct{}
	closed  error // the close the server sent, once the socket ended
	level   uint8 // negotiated audio level extension ID

	wg sync.WaitGroup
}

// Dial connects, identifies, offers an audio track and waits for the
// server's answer.
func Dial(ctx context.Context, o Options) (*Client, error) {
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, o.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("voice dial: %w", err)
	}
	c := &Client{opts: o, ws: ws, streams: map[string]*Stream{}, closeCh: make(chan struct{})}
	var hello Message
	if err := ws.ReadJSON(&hello); err != nil || hello.Op != 8 {
		ws.Close()
		return nil, fmt.Errorf("voice hello: op %d, %v", hello.Op, err)
	}
	var h struct {
		Interval float64 `json:"heartbeat_interval"`
	}
	_ = json.Unmarshal(hello.D, &h)
	if err := c.Identify(); err != nil {
		ws.Close()
		return nil, err
	}
	var ready Message
	if err := ws.ReadJSON(&ready); err != nil {
		ws.Close()
		return nil, fmt.Errorf("voice ready: %w (%v)", err, closeOf(err))
	}
	if ready.Op != 2 {
		ws.Close()
		return nil, fmt.Errorf("voice: op %d instead of ready", ready.Op)
	}
	_ = json.Unmarshal(ready.D, &c.Ready)
	if err := c.setupPeer(); err != nil {
		ws.Close()
		return nil, err
	}
	c.wg.Add(2)
	go c.readLoop()
	go c.heartbeat(time.Duration(h.Interval) * time.Millisecond)
	offer, err := c.offer()
	if err != nil {
		c.Close()
		return nil, err
	}
	if err := c.Send(1, map[string]any{"protocol": "webrtc", "data": offer}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Identify sends op 0 with the options' token (tests send it twice).
func (c *Client) Identify() error {
	return c.Send(0, map[string]any{"server_id": c.opts.ServerID, "user_id": c.opts.UserID,
		"session_id": c.opts.SessionID, "token": c.opts.Token, "max_dave_protocol_version": 0})
}

func closeOf(err error) string {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return strconv.Itoa(ce.Code) + " " + ce.Text
	}
	return "no close frame"
}

// Send writes one message.
func (c *Client) Send(op int, d any) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteJSON(Message{Op: op, D: raw})
}

func (c *Client) setupPeer() error {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return err
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return err
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(0)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	conf := webrtc.Configuration{ICEServers: c.opts.ICEServers}
	if conf.ICEServers == nil {
		var ready struct {
			ICE []webrtc.ICEServer `json:"ice_servers"`
		}
		b, _ := json.Marshal(c.Ready)
		_ = json.Unmarshal(b, &ready)
		conf.ICEServers = ready.ICE
	}
	if c.opts.RelayOnly {
		conf.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := api.NewPeerConnection(conf)
	if err != nil {
		return err
	}
	c.pc = pc
	c.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		"microphone", c.opts.UserID)
	if err != nil {
		return err
	}
	if c.send, err = pc.AddTrack(c.audio); err != nil {
		return err
	}
	c.wg.Add(1)
	go func() { // RTCP must be read for the interceptors to act on it
		defer c.wg.Done()
		for {
			if _, _, err := c.send.ReadRTCP(); err != nil {
				return
			}
		}
	}()
	pc.OnTrack(c.onTrack)
	return nil
}

func (c *Client) offer() (string, error) {
	o, err := c.pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	done := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(o); err != nil {
		return "", err
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return "", errors.New("voice: gathering timed out")
	}
	return c.pc.LocalDescription().SDP, nil
}

func (c *Client) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	user := t.StreamID()
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		c.mu.Lock()
		s := c.streams[user]
		if s == nil {
			s = &Stream{FirstSeq: p.SequenceNumber, LastSeq: p.SequenceNumber - 1, LastTS: p.Timestamp, PayloadTypes: map[uint8]bool{}}
			c.streams[user] = s
		}
		if p.SequenceNumber != s.LastSeq+1 {
			s.Gaps++
		}
		if int32(p.Timestamp-s.LastTS) < 0 {
			s.TSBackwards++
		}
		s.Packets++
		s.LastSeq, s.LastTS, s.LastArrival = p.SequenceNumber, p.Timestamp, time.Now()
		s.PayloadTypes[p.PayloadType] = true
		c.mu.Unlock()
	}
}

func (c *Client) readLoop() {
	defer c.wg.Done()
	defer close(c.closeCh)
	for {
		var m Message
		if err := c.ws.ReadJSON(&m); err != nil {
			c.mu.Lock()
			c.closed = err
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		if m.Seq != nil && *m.Seq > c.seqAck {
			c.seqAck = *m.Seq
		}
		c.msgs = append(c.msgs, m)
		c.mu.Unlock()
		if m.Op == 4 {
			c.description(m.D)
		}
	}
}

// description applies the server's answer, or answers its offer.
func (c *Client) description(raw json.RawMessage) {
	var d struct {
		Type string `json:"type"`
		SDP  string `json:"sdp"`
	}
	if json.Unmarshal(raw, &d) != nil {
		return
	}
	switch d.Type {
	case "answer":
		if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: d.SDP}); err != nil {
			return
		}
		for _, ext := range c.send.GetParameters().HeaderExtensions {
			if ext.URI == sdp.AudioLevelURI {
				c.mu.Lock()
				c.level = uint8(ext.ID)
				c.mu.Unlock()
			}
		}
	case "offer":
		if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: d.SDP}); err != nil {
			return
		}
		a, err := c.pc.CreateAnswer(nil)
		if err != nil {
			return
		}
		done := webrtc.GatheringCompletePromise(c.pc)
		if err := c.pc.SetLocalDescription(a); err != nil {
			return
		}
		<-done
		_ = c.Send(4, map[string]any{"type": "answer", "sdp": c.pc.LocalDescription().SDP})
	}
}

func (c *Client) heartbeat(every time.Duration) {
	defer c.wg.Done()
	heartbeat(every, c.closeCh, func() {
		c.mu.Lock()
		ack := c.seqAck
		c.mu.Unlock()
		_ = c.Send(3, map[string]any{"t": time.Now().UnixMilli(), "seq_ack": ack})
	})
}

// heartbeat calls beat every interval (Hello's; Discord's 13.75 s when it
// gave none) until done closes.
func heartbeat(every time.Duration, done <-chan struct{}, beat func()) {
	if every <= 0 {
		every = 13750 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			beat()
		}
	}
}

// Connected reports whether media can flow.
func (c *Client) Connected() bool {
	return c.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
}

// SelectedCandidateType is the local candidate type ICE chose ("relay"
// when media goes through TURN), or "" before there is one.
func (c *Client) SelectedCandidateType() string {
	for _, s := range c.pc.GetStats() {
		if pair, ok := s.(webrtc.ICECandidatePairStats); ok && pair.Nominated && pair.State == webrtc.StatsICECandidatePairStateSucceeded {
			if l, ok := c.pc.GetStats()[pair.LocalCandidateID].(webrtc.ICECandidateStats); ok {
				return l.CandidateType.String()
			}
		}
	}
	return ""
}

// Audio sends one 20 ms Opus packet: loud at -20 dBov, otherwise at
// silence (-127), in the audio level extension.
type Audio struct {
	c        *Client
	seq      uint16
	ts       uint32
	Sent     int
	loud     bool
	lastSent time.Time
}

// Sender makes the audio sender of the client's microphone track.
func (c *Client) Sender() *Audio { return &Audio{c: c, seq: 1000, ts: 48000} }

// Send writes one packet.
func (a *Audio) Send(loud bool) error {
	a.c.mu.Lock()
	id := a.c.level
	a.c.mu.Unlock()
	p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: a.seq, Timestamp: a.ts},
		Payload: []byte{0xfc, 0xff, 0xfe}} // an Opus TOC and two bytes: nobody decodes it
	if id != 0 {
		level := byte(127)
		if loud {
			level = 20
		}
		_ = p.Header.SetExtension(id, []byte{0x80 | level})
	}
	a.seq++
	a.ts += 960
	a.Sent++
	return a.c.audio.WriteRTP(p)
}

// Run sends packets every 20 ms until ctx ends.
func (a *Audio) Run(ctx context.Context, loud func() bool) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = a.Send(loud())
		}
	}
}

// Talk sends packets every 20 ms from a goroutine of its own (loud: at
// speaking level) until the returned stop is called; stop waits for it.
func (c *Client) Talk(loud func() bool) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Sender().Run(ctx, loud)
	}()
	return func() { cancel(); <-done }
}

// Stream returns a copy of what arrived from user.
func (c *Client) Stream(user string) Stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.streams[user]; s != nil {
		return *s
	}
	return Stream{}
}

// Messages returns the messages received so far with op (all for -1).
func (c *Client) Messages(op int) []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Message
	for _, m := range c.msgs {
		if op < 0 || m.Op == op {
			out = append(out, m)
		}
	}
	return out
}

// CloseCode is the close code the server ended the socket with (0 while
// open, -1 if it ended without one).
func (c *Client) CloseCode() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed == nil {
		select {
		case <-c.closeCh:
		default:
			return 0
		}
	}
	var ce *websocket.CloseError
	if errors.As(c.closed, &ce) {
		return ce.Code
	}
	return -1
}

// Close ends the connection and waits for the client's goroutines.
func (c *Client) Close() {
	c.ws.Close()
	if c.pc != nil {
		c.pc.Close()
	}
	c.wg.Wait()
}
