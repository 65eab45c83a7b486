package voice

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strconv"

	"github.com/accord-chat/accord/edge/sfu"
	"github.com/accord-chat/accord/edge/sfu/discordudp"
)

// udpData is Select Protocol's data for protocol "udp": the address IP
// discovery told the client, and the encryption mode it chose.
type udpData struct {
	Address string          `json:"address"`
	Port    json.RawMessage `json:"port"` // a number (some libraries send a string)
	Mode    string          `json:"mode"`
}

// opus is the codec of a native client's one track.
var opus = sfu.Codec{MimeType: "audio/opus", ClockRate: 48000, Channels: 2, Fmtp: "minptime=10;useinbandfec=1"}

// selectUDP starts Discord's native UDP voice: the client's audio
// becomes a microphone track in the room, and Session Description gives
// it the key both directions use.
func (s *Server) selectUDP(sess *session, sp *selectProtocol) error {
	if sess.native == nil {
		return closeWith(CloseUnknownProtocol, "this server does not speak udp")
	}
	var d udpData
	if err := json.Unmarshal(sp.Data, &d); err != nil {
		return closeWith(CloseDecodeError, "invalid select protocol data")
	}
	if !slices.Contains(discordudp.Modes, d.Mode) {
		return closeWith(CloseUnknownEncryption, "unknown encryption mode")
	}
	port, err := strconv.ParseUint(string(trimQuotes(d.Port)), 10, 16)
	ip, ipErr := netip.ParseAddr(d.Address)
	if err != nil || ipErr != nil {
		return closeWith(CloseBadRequest, "select protocol needs the address and port IP discovery gave")
	}
	sess.mu.Lock()
	peer, part := sess.peer, sess.part
	sess.mu.Unlock()
	if peer != nil {
		return closeWith(CloseBadRequest, "media already started over webrtc")
	}
	var key [32]byte
	_, _ = rand.Read(key[:])
	if err := sess.native.Start(d.Mode, key, netip.AddrPortFrom(ip, uint16(port))); err != nil && !errors.Is(err, discordudp.ErrUndiscovered) {
		return closeWith(CloseUnknownEncryption, "unknown encryption mode")
	}
	first := part == nil
	if first {
		if part, err = s.enterRoom(sess, sess.native); err != nil {
			return err
		}
		t, err := part.Publish(sfu.Audio, sfu.Microphone, opus, 0)
		if err != nil {
			return closeWith(CloseDisconnected, "left the channel")
		}
		sess.native.SetTrack(t)
	}
	secret := make([]int, len(key)) // a JSON array of numbers, as Discord sends it
	for i, b := range key {
		secret[i] = int(b)
	}
	sess.send(OpSessionDescription, map[string]any{
		"mode": d.Mode, "secret_key": secret, "audio_codec": "opus", "video_codec": "VP8",
		"media_session_id": idString(ID(sess.ssrc)), "dave_protocol_version": 0,
	})
	if first {
		s.announce(sess)
	}
	return nil
}

func trimQuotes(b []byte) []byte {
	if len(b) > 1 && b[0] == '"' && b[len(b)-1] == '"' {
		return b[1 : len(b)-1]
	}
	return b
}
