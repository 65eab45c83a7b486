// Package webrtcpeer is the SFU's WebRTC transport (pion/webrtc): one
// Peer per participant, all of a node's ICE on one UDP port (UDP mux),
// ICE-lite, DTLS-SRTP, NACK, RTCP reports and transport-wide congestion
// control feedback from pion's interceptors.
//
// A Peer is an sfu.Subscriber: tracks the room gives it become outgoing
// tracks (stream ID = the sender's user ID, track ID = its source), and
// each change is renegotiated by an offer from the server. Incoming
// tracks are published into the room and their packets handed to
// sfu.Track.Forward by one read goroutine per track.
//
// It owns SDP and ICE and nothing else: who may hear whom is edge/sfu's,
// and signalling travels over the voice gateway (edge/voice), which
// hands offers and answers in and gets the server's out through the
// Signal function.
package webrtcpeer
