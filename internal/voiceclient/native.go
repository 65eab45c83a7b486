package voiceclient

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Native is a bot's voice connection: Discord's UDP voice as
// docs/voice.md describes it (IP discovery, Select Protocol "udp",
// aead_aes256_gcm_rtpsize), with none of the server's code. The load
// tool runs hundreds of them.
type Native struct {
	ws   *websocket.Conn
	wmu  sync.Mutex
	udp  *net.UDPConn
	aead cipher.AEAD
	SSRC uint32

	seq     uint16
	ts      uint32
	counter atomic.Uint32
	out     []byte // Send's buffer (one sender goroutine)

	onPacket func(ssrc uint32, seq uint16, payload []byte)
	seqAck   atomic.Int64
	done     chan struct{}
	wg       sync.WaitGroup
}

// NativeOptions are Options plus what a bot connection needs.
type NativeOptions struct {
	Options
	// TLS is used for a wss:// URL.
	TLS *tls.Config
	// OnPacket gets every packet that decrypted, from the connection's one
	// read goroutine; payload is only valid during the call.
	OnPacket func(ssrc uint32, seq uint16, payload []byte)
}

// DialNative connects, identifies, does IP discovery and selects udp;
// it returns once the key has arrived.
func DialNative(ctx context.Context, o NativeOptions) (*Native, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: o.TLS}
	ws, _, err := d.DialContext(ctx, o.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("voice dial: %w", err)
	}
	n := &Native{ws: ws, onPacket: o.OnPacket, done: make(chan struct{}), out: make([]byte, 0, 1500), seq: 1, ts: 960}
	fail := func(err error) (*Native, error) {
		ws.Close()
		if n.udp != nil {
			n.udp.Close()
		}
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(dl)
	}
	var hello struct {
		Interval float64 `json:"heartbeat_interval"`
	}
	if err := n.expect(8, &hello); err != nil {
		return fail(err)
	}
	if err := n.send(0, map[string]any{"server_id": o.ServerID, "user_id": o.UserID, "session_id": o.SessionID,
		"token": o.Token, "max_dave_protocol_version": 0}); err != nil {
		return fail(err)
	}
	var ready struct {
		SSRC uint32 `json:"ssrc"`
		IP   string `json:"ip"`
		Port int    `json:"port"`
	}
	if err := n.expect(2, &ready); err != nil {
		return fail(err)
	}
	n.SSRC = ready.SSRC
	if n.udp, err = net.DialUDP("udp", nil, &net.UDPAddr{IP: net.ParseIP(ready.IP), Port: ready.Port}); err != nil {
		return fail(err)
	}
	ip, port, err := n.discover()
	if err != nil {
		return fail(err)
	}
	if err := n.send(1, map[string]any{"protocol": "udp", "data": map[string]any{"address": ip, "port": port, "mode": "aead_aes256_gcm_rtpsize"}}); err != nil {
		return fail(err)
	}
	var desc struct {
		Mode string `json:"mode"`
		Raw  []int  `json:"secret_key"` // numbers, not base64
	}
	if err := n.expect(4, &desc); err != nil {
		return fail(err)
	}
	if desc.Mode != "aead_aes256_gcm_rtpsize" || len(desc.Raw) != 32 {
		return fail(fmt.Errorf("voice: session description %+v", desc))
	}
	key := make([]byte, 32)
	for i, b := range desc.Raw {
		key[i] = byte(b)
	}
	block, _ := aes.NewCipher(key)
	n.aead, _ = cipher.NewGCM(block)
	_ = ws.SetReadDeadline(time.Time{})
	n.wg.Add(3)
	go n.readWS()
	go n.readUDP()
	go n.heartbeat(time.Duration(hello.Interval) * time.Millisecond)
	return n, nil
}

// expect reads messages until one with op arrives and decodes its d.
func (n *Native) expect(op int, into any) error {
	for {
		var m Message
		if err := n.ws.ReadJSON(&m); err != nil {
			return fmt.Errorf("voice: waiting for op %d: %w (%v)", op, err, closeOf(err))
		}
		if m.Seq != nil {
			n.seqAck.Store(*m.Seq)
		}
		if m.Op == op {
			return json.Unmarshal(m.D, into)
		}
	}
}

func (n *Native) send(op int, d any) error {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	_ = n.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return n.ws.WriteJSON(map[string]any{"op": op, "d": d})
}

// discover does IP discovery (74 bytes each way).
func (n *Native) discover() (string, int, error) {
	req := make([]byte, 74)
	binary.BigEndian.PutUint16(req, 1)
	binary.BigEndian.PutUint16(req[2:], 70)
	binary.BigEndian.PutUint32(req[4:], n.SSRC)
	resp := make([]byte, 1500)
	for try := 0; try < 5; try++ {
		if _, err := n.udp.Write(req); err != nil {
			return "", 0, err
		}
		_ = n.udp.SetReadDeadline(time.Now().Add(time.Second))
		k, err := n.udp.Read(resp)
		if err != nil {
			continue
		}
		if k == 74 && binary.BigEndian.Uint16(resp) == 2 {
			_ = n.udp.SetReadDeadline(time.Time{})
			return string(bytes.TrimRight(resp[8:72], "\x00")), int(binary.BigEndian.Uint16(resp[72:])), nil
		}
	}
	return "", 0, errors.New("voice: no IP discovery answer")
}

// Speaking sends op 5.
func (n *Native) Speaking(on bool) error {
	flag := 0
	if on {
		flag = 1
	}
	return n.send(5, map[string]any{"speaking": flag, "delay": 0, "ssrc": n.SSRC})
}

// Send sends one 20 ms Opus packet with payload. One goroutine at a time.
func (n *Native) Send(payload []byte) error {
	var h [12]byte
	h[0], h[1] = 0x80, 120
	binary.BigEndian.PutUint16(h[2:], n.seq)
	binary.BigEndian.PutUint32(h[4:], n.ts)
	binary.BigEndian.PutUint32(h[8:], n.SSRC)
	n.seq++
	n.ts += 960
	c := n.counter.Add(1)
	var nonce [12]byte
	binary.BigEndian.PutUint32(nonce[:], c)
	out := append(n.out[:0], h[:]...)
	out = n.aead.Seal(out, nonce[:], payload, h[:])
	out = binary.BigEndian.AppendUint32(out, c)
	_, err := n.udp.Write(out)
	return err
}

func (n *Native) readUDP() {
	defer n.wg.Done()
	buf := make([]byte, 1500)
	plain := make([]byte, 0, 1500)
	var nonce [12]byte
	for {
		k, err := n.udp.Read(buf)
		if err != nil {
			return
		}
		p := buf[:k]
		if k < 12+16+4 || p[0]>>6 != 2 {
			continue
		}
		hl := 12 + 4*int(p[0]&0x0f)
		if p[0]&0x10 != 0 {
			hl += 4
		}
		if k < hl+16+4 {
			continue
		}
		copy(nonce[:4], p[k-4:])
		out, err := n.aead.Open(plain[:0], nonce[:], p[hl:k-4], p[:hl])
		if err != nil || n.onPacket == nil {
			continue
		}
		if p[0]&0x10 != 0 {
			words := int(binary.BigEndian.Uint16(p[hl-2 : hl]))
			if len(out) < 4*words {
				continue
			}
			out = out[4*words:]
		}
		n.onPacket(binary.BigEndian.Uint32(p[8:]), binary.BigEndian.Uint16(p[2:]), out)
	}
}

func (n *Native) readWS() {
	defer n.wg.Done()
	defer close(n.done)
	for {
		var m Message
		if err := n.ws.ReadJSON(&m); err != nil {
			return
		}
		if m.Seq != nil {
			n.seqAck.Store(*m.Seq)
		}
	}
}

func (n *Native) heartbeat(every time.Duration) {
	defer n.wg.Done()
	heartbeat(every, n.done, func() {
		_ = n.send(3, map[string]any{"t": time.Now().UnixMilli(), "seq_ack": n.seqAck.Load()})
	})
}

// Close ends the connection and waits for its goroutines.
func (n *Native) Close() {
	n.ws.Close()
	n.udp.Close()
	n.wg.Wait()
}
