package sfu

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// recorder is a Subscriber whose sinks keep what they are sent.
type recorder struct {
	mu    sync.Mutex
	got   map[*Track][]uint16 // sequence numbers received per track
	added int
}

func newRecorder() *recorder { return &recorder{got: map[*Track][]uint16{}} }

type recSink struct {
	r *recorder
	t *Track
}

func (s recSink) WriteRTP(p *rtp.Packet) error {
	s.r.mu.Lock()
	s.r.got[s.t] = append(s.r.got[s.t], p.SequenceNumber)
	s.r.mu.Unlock()
	return nil
}

func (r *recorder) AddTrack(t *Track) (Sink, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.added++
	r.got[t] = r.got[t][:0]
	return recSink{r, t}, nil
}

func (r *recorder) RemoveTrack(t *Track) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.got, t)
}

func (r *recorder) seqs(t *Track) []uint16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint16(nil), r.got[t]...)
}

func (r *recorder) has(t *Track) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.got[t]
	return ok
}

var opus = Codec{MimeType: "audio/opus", ClockRate: 48000, Channels: 2}

// sender numbers packets like an RTP sender.
type sender struct {
	t   *Track
	seq uint16
}

func (s *sender) send(n int) {
	for range n {
		s.t.Forward(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: s.seq, Timestamp: uint32(s.seq) * 960}, Payload: []byte{1, 2, 3}})
		s.seq++
	}
}

// consecutive reports whether seqs count up by one.
func consecutive(seqs []uint16) bool {
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			return false
		}
	}
	return true
}

func TestForwarding(t *testing.T) {
	r := NewRoom(nil)
	recs := []*recorder{newRecorder(), newRecorder(), newRecorder()}
	parts := make([]*Participant, 3)
	for i := range parts {
		var err error
		if parts[i], err = r.Join(uint64(i+1), uint32(100+i), recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Join(1, 1, newRecorder()); err != ErrJoined {
		t.Fatalf("joining twice: %v", err)
	}
	senders := make([]*sender, 3)
	for i, p := range parts {
		tr, err := p.Publish(Audio, Microphone, opus, 0)
		if err != nil {
			t.Fatal(err)
		}
		senders[i] = &sender{t: tr, seq: uint16(65530 - i*1000)} // wraps for the first
	}
	for _, s := range senders {
		s.send(10)
	}
	for i, rec := range recs {
		for j, s := range senders {
			got := rec.seqs(s.t)
			switch {
			case i == j && rec.has(s.t):
				t.Fatalf("participant %d receives its own track", i)
			case i != j && (len(got) != 10 || !consecutive(got)):
				t.Fatalf("participant %d got %v of %d's track, want 10 in a row", i, got, j)
			}
		}
	}

	// Server mute of 0: nobody gets its packets; unmuted, the numbering
	// goes on without a gap.
	parts[0].SetMuted(true)
	senders[0].send(25)
	if n := len(recs[1].seqs(senders[0].t)); n != 10 {
		t.Fatalf("a muted speaker reached participant 1: %d packets", n)
	}
	parts[0].SetMuted(false)
	senders[0].send(5)
	if got := recs[1].seqs(senders[0].t); len(got) != 15 || !consecutive(got) {
		t.Fatalf("after unmute participant 1 has %v, want 15 in a row", got)
	}
	if w := senders[0].t.Withheld.Load(); w != 50 {
		t.Fatalf("withheld %d, want 25 packets × 2 receivers", w)
	}

	// Deafening 2: it gets no audio; the others still do.
	parts[2].SetDeafened(true)
	senders[0].send(5)
	senders[1].send(5)
	if n := len(recs[2].seqs(senders[0].t)); n != 15 {
		t.Fatalf("a deafened listener got audio: %d", n)
	}
	if n := len(recs[1].seqs(senders[0].t)); n != 20 {
		t.Fatalf("listener 1 stopped getting audio when 2 was deafened: %d", n)
	}
	parts[2].SetDeafened(false)

	// An upstream loss stays a gap (the receiver may NACK it).
	before := len(recs[1].seqs(senders[0].t))
	senders[0].seq += 3
	senders[0].send(1)
	got := recs[1].seqs(senders[0].t)
	if len(got) != before+1 || got[len(got)-1] != got[len(got)-2]+4 {
		t.Fatalf("an upstream gap of 3 became %v", got[len(got)-2:])
	}

	// Someone joining late gets every track; leaving ends one's tracks
	// at the others.
	late := newRecorder()
	p4, err := r.Join(4, 104, late)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range senders {
		if !late.has(s.t) {
			t.Fatal("a late joiner does not receive a published track")
		}
	}
	parts[0].Leave()
	parts[0].Leave()
	if recs[1].has(senders[0].t) || late.has(senders[0].t) {
		t.Fatal("a track of a participant that left is still received")
	}
	if rs := senders[1].t.Receivers(); len(rs) != 2 || rs[0] != 3 || rs[1] != 4 {
		t.Fatalf("receivers of 1's track after 0 left: %v", rs)
	}
	p4.Leave()
	if got := len(r.Participants()); got != 2 {
		t.Fatalf("%d participants, want 2", got)
	}
}

func TestSpeakingFromAudioLevel(t *testing.T) {
	r := NewRoom(nil)
	a, _ := r.Join(1, 1, newRecorder())
	b, _ := r.Join(2, 2, newRecorder())
	ta, _ := a.Publish(Audio, Microphone, opus, 1)
	if _, err := b.Publish(Audio, Microphone, opus, 0); err != nil {
		t.Fatal(err)
	}
	level := func(l byte) *rtp.Packet {
		p := &rtp.Packet{Header: rtp.Header{Version: 2}}
		if err := p.Header.SetExtension(1, []byte{0x80 | l}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ta.Forward(level(120)) // silence
	if ch := r.Speaking(time.Now()); len(ch) != 0 {
		t.Fatalf("silence reported as %v", ch)
	}
	ta.Forward(level(20))
	ch := r.Speaking(time.Now())
	if len(ch) != 1 || ch[0].Participant != a || !ch[0].Speaking {
		t.Fatalf("loud frame: %v, want a speaking", ch)
	}
	if ch := r.Speaking(time.Now()); len(ch) != 0 {
		t.Fatalf("no change reported as %v", ch)
	}
	ch = r.Speaking(time.Now().Add(time.Second))
	if len(ch) != 1 || ch[0].Speaking {
		t.Fatalf("a second later: %v, want a stopped", ch)
	}
}

// TestForwardDoesNotAllocate: forwarding a packet to receivers costs no
// allocation (the transport's own writes are not counted here).
func TestForwardDoesNotAllocate(t *testing.T) {
	r := NewRoom(nil)
	p, _ := r.Join(1, 1, newRecorder())
	for i := range 9 {
		if _, err := r.Join(uint64(i+2), 0, discardSub{}); err != nil {
			t.Fatal(err)
		}
	}
	tr, _ := p.Publish(Audio, Microphone, opus, 1)
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2}, Payload: make([]byte, 80)}
	_ = pkt.Header.SetExtension(1, []byte{0x90})
	allocs := testing.AllocsPerRun(1000, func() {
		pkt.SequenceNumber++
		tr.Forward(pkt)
	})
	if allocs != 0 {
		t.Fatalf("Forward allocates %.1f times per packet", allocs)
	}
}

type discardSub struct{}

func (discardSub) AddTrack(*Track) (Sink, error) { return discardSink{}, nil }
func (discardSub) RemoveTrack(*Track)            {}

type discardSink struct{}

func (discardSink) WriteRTP(*rtp.Packet) error { return nil }

// BenchmarkForward: one audio packet to the nine others of a channel of
// ten, the SFU's own cost without a transport.
func BenchmarkForward(b *testing.B) {
	r := NewRoom(nil)
	p, _ := r.Join(1, 1, discardSub{})
	for i := range 9 {
		_, _ = r.Join(uint64(i+2), 0, discardSub{})
	}
	tr, _ := p.Publish(Audio, Microphone, opus, 1)
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2}, Payload: make([]byte, 80)}
	_ = pkt.Header.SetExtension(1, []byte{0x90})
	b.ReportAllocs()
	for b.Loop() {
		pkt.SequenceNumber++
		tr.Forward(pkt)
	}
}

// FuzzForward: whatever bytes arrive as RTP, the transport's unmarshal
// refuses them or Forward passes them on without panicking.
func FuzzForward(f *testing.F) {
	good, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 7}, Payload: []byte{1}}).Marshal()
	f.Add(good)
	f.Add([]byte{0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 1, 0x10, 0x99, 0, 0})
	f.Add([]byte{})
	r := NewRoom(nil)
	p, _ := r.Join(1, 1, discardSub{})
	_, _ = r.Join(2, 2, newRecorder())
	tr, _ := p.Publish(Audio, Microphone, opus, 1)
	var pkt rtp.Packet
	f.Fuzz(func(t *testing.T, b []byte) {
		if pkt.Unmarshal(b) != nil {
			return
		}
		tr.Forward(&pkt)
	})
}
