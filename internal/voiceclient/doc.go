// Package voiceclient is Accord's own voice client on pion/webrtc, written
// from docs/voice.md alone: it speaks the voice gateway (Hello, Identify,
// Ready, Select Protocol "webrtc", Session Description both ways,
// heartbeats with seq_ack) and sends and receives RTP. Native is the
// same as a bot speaks it: Select Protocol "udp", IP discovery and
// aead_aes256_gcm_rtpsize. Tests and the load tool use them; they are what
// another client of the protocol should do.
//
// It never decodes media: what it sends is RTP with an Opus payload type
// and an audio level, what it records of what it receives is sequence
// numbers and timestamps, per sending user.
package voiceclient
