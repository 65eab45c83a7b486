// Package voice is Accord's voice gateway: Discord's voice WebSocket
// protocol (version 8: Hello, Identify, Ready, Select Protocol, Session
// Description, Speaking, heartbeats with seq_ack, Resume, Clients
// Connect/Disconnect and its close codes) in front of the SFU.
//
// It owns voice tokens (single-use on this node, bound to user, guild
// and gateway session, short-lived), the sessions that hold them, and
// the rooms of the channels this node hosts. It reads voice states,
// members and permissions from the engine and turns them into the SFU's
// flags (server mute or no SPEAK: nobody hears the user; deafened: the
// user hears nobody); a voice state that leaves, moves or goes to
// another host ends the session with close code 4014.
//
// It must never forward media itself (edge/sfu does) or speak SDP or
// ICE (edge/sfu/webrtcpeer does), and it changes replicated state only
// through the engine (self_video and self_stream).
package voice
