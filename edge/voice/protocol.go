package voice

import (
	"encoding/json"
	"errors"
	"strconv"
)

// Voice gateway opcodes (Discord's voice gateway, version 8).
const (
	OpIdentify           = 0
	OpSelectProtocol     = 1
	OpReady              = 2
	OpHeartbeat          = 3
	OpSessionDescription = 4
	OpSpeaking           = 5
	OpHeartbeatACK       = 6
	OpResume             = 7
	OpHello              = 8
	OpResumed            = 9
	OpClientsConnect     = 11
	OpVideo              = 12
	OpClientDisconnect   = 13
)

// Close codes (Discord's voice close event codes).
const (
	CloseUnknownOpcode         = 4001
	CloseDecodeError           = 4002
	CloseNotAuthenticated      = 4003
	CloseAuthFailed            = 4004
	CloseAlreadyAuth           = 4005
	CloseSessionInvalid        = 4006
	CloseSessionTimeout        = 4009
	CloseServerNotFound        = 4011
	CloseUnknownProtocol       = 4012
	CloseDisconnected          = 4014
	CloseServerCrashed         = 4015
	CloseUnknownEncryption     = 4016
	CloseBadRequest            = 4020
	CloseRateLimited           = 4021
	CloseCallTerminated        = 4022
	closeReasonMaxBytes    int = 123 // a close frame's reason must fit
)

// closeError is a reason to close the connection with a code.
type closeError struct {
	code   int
	reason string
}

func (e *closeError) Error() string { return strconv.Itoa(e.code) + " " + e.reason }

func closeWith(code int, reason string) error { return &closeError{code, reason} }

// closeFor maps a token error to its close code: a token not made for
// this user and session fails authentication; one spent or expired
// belongs to a session that is no longer valid.
func closeFor(err error) error {
	if errors.Is(err, ErrTokenInvalid) {
		return closeWith(CloseAuthFailed, "authentication failed")
	}
	return closeWith(CloseSessionInvalid, err.Error())
}

// frame is a message in either direction.
type frame struct {
	Op  int             `json:"op"`
	D   json.RawMessage `json:"d"`
	Seq *int64          `json:"seq,omitempty"`
}

// snowflake decodes an ID sent as a string or a number.
type snowflake uint64

func (s *snowflake) UnmarshalJSON(b []byte) error {
	if len(b) > 1 && b[0] == '"' {
		b = b[1 : len(b)-1]
	}
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return errors.New("not a snowflake")
	}
	*s = snowflake(v)
	return nil
}

type identify struct {
	ServerID  snowflake `json:"server_id"`
	UserID    snowflake `json:"user_id"`
	SessionID string    `json:"session_id"`
	Token     string    `json:"token"`
	// MaxDAVE is the newest DAVE (E2EE) version the client speaks; the
	// server answers 0 (transport encryption only).
	MaxDAVE int `json:"max_dave_protocol_version"`
}

type resume struct {
	ServerID  snowflake `json:"server_id"`
	SessionID string    `json:"session_id"`
	Token     string    `json:"token"`
	SeqAck    *int64    `json:"seq_ack"`
}

type selectProtocol struct {
	Protocol string          `json:"protocol"`
	Data     json.RawMessage `json:"data"`
	SDP      string          `json:"sdp"`
}

// offerSDP is the SDP of a webrtc Select Protocol: in "sdp", or in
// "data" as a string or as {"sdp": …}.
func (s *selectProtocol) offerSDP() string {
	if s.SDP != "" {
		return s.SDP
	}
	var str string
	if json.Unmarshal(s.Data, &str) == nil {
		return str
	}
	var obj struct {
		SDP string `json:"sdp"`
	}
	if json.Unmarshal(s.Data, &obj) == nil {
		return obj.SDP
	}
	return ""
}

// description is op 4 from a webrtc client: its answer to the server's
// offer, or an offer of its own.
type description struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
}

type speaking struct {
	Speaking speakingFlags `json:"speaking"`
	Delay    int           `json:"delay"`
	SSRC     uint32        `json:"ssrc"`
}

// speakingFlags is Speaking's bitmask (1 microphone, 2 soundshare, 4
// priority); older clients (discordgo) send a bool for the microphone.
type speakingFlags int

func (f *speakingFlags) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true":
		*f = 1
		return nil
	case "false", "null":
		*f = 0
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = speakingFlags(n)
	return nil
}

// heartbeat is op 3's d: {t, seq_ack} in v8, a bare nonce before.
type heartbeat struct {
	T      json.RawMessage
	SeqAck *int64
}

func (h *heartbeat) UnmarshalJSON(b []byte) error {
	var v8 struct {
		T      json.RawMessage `json:"t"`
		SeqAck *int64          `json:"seq_ack"`
	}
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &v8); err != nil {
			return err
		}
		h.T, h.SeqAck = v8.T, v8.SeqAck
		return nil
	}
	h.T = append(json.RawMessage(nil), b...)
	return nil
}

// ICEServer is a STUN or TURN server for the client's ICE agent, in
// RTCIceServer's shape.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}
