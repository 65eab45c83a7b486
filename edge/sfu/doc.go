// Package sfu is Accord's selective forwarding unit, independent of any
// transport: a Room is a voice channel on this node, a Participant is one
// user's connection to it, a Track is one incoming media stream (a
// microphone, a camera, a screen share) and a Sink is where one receiver
// gets one track. The transport (edge/sfu/webrtcpeer for WebRTC; later
// Discord's native UDP voice) reads packets off the wire and hands them to
// Track.Forward, and gives each participant a Subscriber that turns a
// Track into a Sink on its side.
//
// The package owns who hears whom: a server-muted speaker, or one
// without SPEAK, reaches no one; a deafened listener receives no audio;
// nobody receives their own tracks. It also owns speaking detection from
// the RFC 6464 audio level, and per-receiver sequence numbering, so that
// packets it withholds leave no gap a receiver would try to repair.
//
// It must never touch the network, the engine or Raft: decisions about
// permissions come in as flags set by the voice gateway (edge/voice).
// Track.Forward runs on the transport's read goroutine for that track
// and must not allocate or block.
package sfu
