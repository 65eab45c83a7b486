package webrtcpeer

import (
	"errors"
	"log/slog"
	"net"
	"testing"

	"github.com/pion/webrtc/v4"
)

func newTransport(t testing.TB) *Transport {
	t.Helper()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(Config{UDP: udp, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close(); udp.Close() })
	return tr
}

// offer is a real browser-shaped offer from a pion peer.
func offer(t testing.TB) string {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return o.SDP
}

// FuzzHandleOffer: any offer is answered or refused with ErrBadSDP; the
// peer never panics and closes cleanly either way.
func FuzzHandleOffer(f *testing.F) {
	tr := newTransport(f)
	good := offer(f)
	f.Add(good)
	f.Add("v=0\r\n")
	f.Add(good[:len(good)/2])
	f.Add("")
	f.Fuzz(func(t *testing.T, sdp string) {
		p, err := tr.NewPeer(func(string, string) {}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if _, err := p.HandleOffer(sdp); err != nil && !errors.Is(err, ErrBadSDP) {
			t.Fatalf("HandleOffer: %v", err)
		}
	})
}

func TestAnswerWithoutOffer(t *testing.T) {
	tr := newTransport(t)
	p, err := tr.NewPeer(func(string, string) {}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.HandleAnswer("v=0\r\n"); !errors.Is(err, ErrNoOffer) {
		t.Fatalf("answer with no offer out: %v", err)
	}
	if _, err := p.HandleOffer(offer(t)); err != nil {
		t.Fatalf("a real offer: %v", err)
	}
}
