package sfu

import (
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// Kind is a track's media type.
type Kind uint8

const (
	Audio Kind = iota + 1
	Video
)

func (k Kind) String() string {
	if k == Audio {
		return "audio"
	}
	return "video"
}

// Source is what a track carries, which decides what the voice state
// says (self_video for a camera, self_stream for a screen share).
type Source uint8

const (
	Microphone Source = iota + 1
	Camera
	Screen
)

func (s Source) String() string {
	switch s {
	case Microphone:
		return "microphone"
	case Camera:
		return "camera"
	}
	return "screen"
}

// Codec names a track's codec in SDP terms, for the transport that
// sends it on.
type Codec struct {
	MimeType  string // "audio/opus", "video/VP8"
	ClockRate uint32
	Channels  uint16
	Fmtp      string
}

// Sink is one receiver's end of one track. WriteRTP is called from the
// track's forwarding goroutine only; it must not block (drop instead)
// and must not keep p or its payload after returning.
type Sink interface {
	WriteRTP(p *rtp.Packet) error
}

// Subscriber is a participant's receiving side, given by its transport.
// The room calls AddTrack when a track the participant may receive is
// published (or when the participant joins a room that has some) and
// RemoveTrack when it ends or the participant leaves. Both are called
// with the room's lock held, one at a time per room: they must not call
// back into the room, and must not wait on the network (a transport
// renegotiates in the background).
type Subscriber interface {
	AddTrack(t *Track) (Sink, error)
	RemoveTrack(t *Track)
}

// ErrJoined: the user is already a participant of the room.
var ErrJoined = errors.New("sfu: already in the room")

// Room is one voice channel on this node.
type Room struct {
	mu     sync.Mutex
	parts  map[uint64]*Participant
	closed bool
	meter  *Meter // immutable
}

// NewRoom makes an empty room that counts into m (nil: nowhere).
func NewRoom(m *Meter) *Room {
	if m == nil {
		m = &discard
	}
	return &Room{parts: map[uint64]*Participant{}, meter: m}
}

// Participant is one user's connection to a room.
type Participant struct {
	room   *Room
	UserID uint64
	// SSRC is the participant's audio SSRC as its voice session
	// announced it (Speaking events carry it).
	SSRC uint32
	sub  Subscriber

	muted    atomic.Bool // nothing it sends is forwarded (server mute, no SPEAK)
	deafened atomic.Bool // it receives no audio (server or self deafen)

	tracks []*Track // guarded by room.mu
	// speaking is what Speaking last reported (room.mu).
	speaking bool
	left     bool
}

// Track is one incoming media stream of a participant.
type Track struct {
	Owner  *Participant
	Kind   Kind
	Source Source
	Codec  Codec
	// LevelExt is the RTP header extension ID of RFC 6464 audio levels
	// on this track (0: none negotiated).
	LevelExt uint8

	downs    atomic.Pointer[[]*down] // copy-on-write under Owner.room.mu
	keyFrame atomic.Pointer[func()]
	loud     atomic.Int64 // unix nanos of the last packet above the speaking level

	In, Out, Withheld atomic.Uint64 // packets
}

// down is a track's way to one receiver.
type down struct {
	to   *Participant
	sink Sink
	// Forward's goroutine alone touches the rest.
	pkt      rtp.Packet // the copy written, reused: no allocation per packet
	started  bool
	skipping bool   // packets were withheld since the last one written
	offset   uint16 // outgoing sequence = incoming - offset
	last     uint16 // newest outgoing sequence number written
}

// Join adds a participant whose receiving side is sub; it starts
// receiving every track already published that it may receive.
func (r *Room) Join(uid uint64, ssrc uint32, sub Subscriber) (*Participant, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("sfu: room closed")
	}
	if _, ok := r.parts[uid]; ok {
		return nil, ErrJoined
	}
	p := &Participant{room: r, UserID: uid, SSRC: ssrc, sub: sub}
	r.parts[uid] = p
	for _, other := range r.sortedLocked() {
		for _, t := range other.tracks {
			t.subscribeLocked(p)
		}
	}
	return p, nil
}

// Participants lists the room's participants by user ID.
func (r *Room) Participants() []*Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sortedLocked()
}

// Empty reports whether nobody is in the room.
func (r *Room) Empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.parts) == 0
}

func (r *Room) sortedLocked() []*Participant {
	out := make([]*Participant, 0, len(r.parts))
	for _, p := range r.parts {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	return out
}

// Publish adds an incoming track and starts forwarding it to every other
// participant.
func (p *Participant) Publish(kind Kind, source Source, codec Codec, levelExt uint8) (*Track, error) {
	r := p.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.left {
		return nil, errors.New("sfu: participant left")
	}
	t := &Track{Owner: p, Kind: kind, Source: source, Codec: codec, LevelExt: levelExt}
	empty := []*down{}
	t.downs.Store(&empty)
	p.tracks = append(p.tracks, t)
	for _, other := range r.sortedLocked() {
		if other != p {
			t.subscribeLocked(other)
		}
	}
	return t, nil
}

// subscribeLocked starts sending t to p (r.mu held).
func (t *Track) subscribeLocked(p *Participant) {
	sink, err := p.sub.AddTrack(t)
	if err != nil || sink == nil {
		return // the transport logged why; p simply does not get t
	}
	old := *t.downs.Load()
	next := make([]*down, len(old), len(old)+1)
	copy(next, old)
	next = append(next, &down{to: p, sink: sink})
	t.downs.Store(&next)
	if t.Kind == Video {
		t.RequestKeyFrame() // the new receiver can decode nothing until one
	}
}

// unsubscribeLocked stops sending t to p (r.mu held).
func (t *Track) unsubscribeLocked(p *Participant) {
	old := *t.downs.Load()
	next := make([]*down, 0, len(old))
	found := false
	for _, d := range old {
		if d.to == p {
			found = true
			continue
		}
		next = append(next, d)
	}
	if found {
		t.downs.Store(&next)
		p.sub.RemoveTrack(t)
	}
}

// Unpublish ends a track: its receivers stop getting it.
func (t *Track) Unpublish() {
	r := t.Owner.room
	r.mu.Lock()
	defer r.mu.Unlock()
	t.unpublishLocked()
}

func (t *Track) unpublishLocked() {
	p := t.Owner
	for i, x := range p.tracks {
		if x == t {
			p.tracks = append(p.tracks[:i:i], p.tracks[i+1:]...)
			break
		}
	}
	for _, d := range *t.downs.Load() {
		d.to.sub.RemoveTrack(t)
	}
	empty := []*down{}
	t.downs.Store(&empty)
}

// Tracks lists the participant's published tracks.
func (p *Participant) Tracks() []*Track {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	return append([]*Track(nil), p.tracks...)
}

// Receivers lists who gets t.
func (t *Track) Receivers() []uint64 {
	var out []uint64
	for _, d := range *t.downs.Load() {
		out = append(out, d.to.UserID)
	}
	return out
}

// Leave removes the participant: its tracks end and it stops receiving.
// Leaving twice is harmless.
func (p *Participant) Leave() {
	r := p.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.left {
		return
	}
	p.left = true
	for len(p.tracks) > 0 {
		p.tracks[0].unpublishLocked()
	}
	delete(r.parts, p.UserID)
	for _, other := range r.sortedLocked() {
		for _, t := range other.tracks {
			t.unsubscribeLocked(p)
		}
	}
}

// SetMuted withholds everything the participant sends (server mute, or
// no SPEAK permission in the channel) or lets it through again.
func (p *Participant) SetMuted(v bool) { p.muted.Store(v) }

// SetDeafened withholds all audio from the participant, or restores it.
func (p *Participant) SetDeafened(v bool) { p.deafened.Store(v) }

// Muted and Deafened report the flags.
func (p *Participant) Muted() bool    { return p.muted.Load() }
func (p *Participant) Deafened() bool { return p.deafened.Load() }

// SetKeyFrameRequester sets how to ask the track's sender for a key
// frame (the transport sends a PLI).
func (t *Track) SetKeyFrameRequester(fn func()) { t.keyFrame.Store(&fn) }

// RequestKeyFrame asks the sender for a key frame, if it can be asked.
func (t *Track) RequestKeyFrame() {
	if fn := t.keyFrame.Load(); fn != nil {
		t.Owner.room.meter.KeyFrames.Add(1)
		(*fn)()
	}
}

// speakingLevel: RFC 6464 levels are -dBov, 0 loudest and 127 silence;
// a frame at or above -50 dBov is speech (quiet rooms sit near -70).
const speakingLevel = 50

// Forward sends one incoming packet on to every receiver that may have
// it. It is called from the track's one read goroutine; p is not kept.
func (t *Track) Forward(p *rtp.Packet) {
	t.In.Add(1)
	audio := t.Kind == Audio
	if audio && t.LevelExt != 0 {
		if ext := p.Header.GetExtension(t.LevelExt); len(ext) > 0 && ext[0]&0x7f <= speakingLevel {
			t.loud.Store(time.Now().UnixNano())
		}
	}
	blocked := t.Owner.muted.Load()
	var out, held uint64
	for _, d := range *t.downs.Load() {
		if blocked || (audio && d.to.deafened.Load()) {
			d.skipping = true
			held++
			continue
		}
		d.write(p)
		out++
	}
	t.Out.Add(out)
	t.Withheld.Add(held)
	m := t.Owner.room.meter
	size := uint64(len(p.Payload))
	m.PacketsIn.Add(1)
	m.BytesIn.Add(size)
	if out > 0 {
		m.PacketsOut.Add(out)
		m.BytesOut.Add(out * size)
	}
	if held > 0 {
		m.Withheld.Add(held)
	}
}

// write renumbers p for this receiver: packets withheld from it leave no
// gap (it would ask for them again), losses upstream still do (so that
// its NACKs reach the sender's retransmissions through the transport).
func (d *down) write(p *rtp.Packet) {
	in := p.SequenceNumber
	switch {
	case !d.started:
		d.started, d.offset, d.last = true, 0, in-1
	case d.skipping:
		d.offset = in - (d.last + 1)
	}
	d.skipping = false
	d.pkt.Header = p.Header
	// Header extension IDs are negotiated per connection; the receiver's
	// transport adds its own (transport-wide sequence numbers).
	d.pkt.Header.Extension, d.pkt.Header.Extensions, d.pkt.Header.ExtensionProfile = false, nil, 0
	d.pkt.Payload = p.Payload
	d.pkt.PaddingSize = p.PaddingSize
	out := in - d.offset
	d.pkt.SequenceNumber = out
	if int16(out-d.last) > 0 {
		d.last = out
	}
	_ = d.sink.WriteRTP(&d.pkt)
}

// SpeakingChange is a participant that started or stopped speaking.
type SpeakingChange struct {
	Participant *Participant
	Speaking    bool
}

// speakingHold keeps a speaker "speaking" through the pauses between
// words.
const speakingHold = 400 * time.Millisecond

// Speaking updates who is speaking from the audio levels seen up to now
// and returns the changes. Participants without an audio track carrying
// levels are left out (their clients send Speaking themselves).
func (r *Room) Speaking(now time.Time) []SpeakingChange {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []SpeakingChange
	for _, p := range r.sortedLocked() {
		levels, loud := false, int64(0)
		for _, t := range p.tracks {
			if t.Kind == Audio && t.LevelExt != 0 {
				levels = true
				loud = max(loud, t.loud.Load())
			}
		}
		if !levels {
			continue
		}
		speaking := loud != 0 && now.UnixNano()-loud < int64(speakingHold) && !p.muted.Load()
		if speaking != p.speaking {
			p.speaking = speaking
			out = append(out, SpeakingChange{Participant: p, Speaking: speaking})
		}
	}
	return out
}

// Close removes everyone.
func (r *Room) Close() {
	r.mu.Lock()
	r.closed = true
	parts := r.sortedLocked()
	r.mu.Unlock()
	for _, p := range parts {
		p.Leave()
	}
}
