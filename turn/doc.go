// Package turn runs the TURN server (RFC 8656, on pion/turn) that voice
// clients behind restrictive NATs and firewalls use to reach the SFU.
//
// It owns: the listeners (UDP, TCP and, with a certificate, TLS), the
// short-lived credentials of coturn's TURN REST scheme (username
// "expiry:user_id", password base64(HMAC-SHA1(secret, username))), the
// per-user allocation quota, the per-allocation bandwidth cap, and the
// rule that relays never reach loopback, private, link-local, multicast
// or unspecified addresses unless the operator allows a range (an edge
// node allows its own SFU's address, which is what the relay is for).
//
// It stands alone: it imports nothing of Accord's, so `accord turn` runs
// it on a machine of its own with only the shared secret. It must never
// learn about users, guilds or voice channels beyond the user ID in a
// credential; whoever holds the secret (the edge node issuing voice
// sessions) decides who gets credentials.
package turn
