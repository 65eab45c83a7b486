// Package discordudp is the SFU's second transport: Discord's native UDP
// voice, which bots speak (discord.js with @discordjs/voice, discord.py,
// discordgo). A participant sends IP discovery to the node's voice port,
// then encrypted RTP (Opus) with the session's key; the server answers
// discovery, decrypts what a participant sends into its sfu.Track and
// encrypts what the room forwards to it with its own key and counter.
//
// It shares the node's one voice UDP port with WebRTC: a Mux wraps the
// socket and is itself the net.PacketConn WebRTC's ICE mux reads, taking
// Discord's packets out on the way (IP discovery, and RTP from addresses
// a native session proved by decrypting). Everything else passes through
// untouched. Native packets are therefore handled on the goroutine that
// reads the WebRTC side, which must read continuously (pion's UDP mux
// does); that goroutine is every native track's one Forward goroutine.
//
// Media is sent only to an address that answered for the session:
// discovery from it for the session's SSRC, or a packet from it that
// decrypted with the session's key, so a client cannot aim the server's
// media at a third party. Discovery answers are no larger than requests.
//
// It owns the wire format and the encryption modes and nothing else:
// who hears whom is edge/sfu's, signalling (Ready, Select Protocol,
// Session Description) is edge/voice's.
package discordudp
