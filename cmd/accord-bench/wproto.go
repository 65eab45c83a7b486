package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// The two protocols the workers speak: Accord's gateway (HELLO, IDENTIFY,
// heartbeats) and Centrifugo's JSON protocol (connect, subscribe, pongs).

// accordHandshake reads HELLO, identifies, starts heartbeats and waits
// for READY.
func (w *worker) accordHandshake(c *wconn, buf *bytes.Buffer, token string) error {
	_ = c.ws.SetReadDeadline(time.Now().Add(60 * time.Second))
	defer c.ws.SetReadDeadline(time.Time{})
	data, err := c.read(buf)
	if err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	var hello struct {
		Op int `json:"op"`
		D  struct {
			Interval int64 `json:"heartbeat_interval"`
		} `json:"d"`
	}
	if err := json.Unmarshal(data, &hello); err != nil || hello.Op != 10 || hello.D.Interval <= 0 {
		return fmt.Errorf("hello: unexpected %q", truncate(data))
	}
	ident, _ := json.Marshal(map[string]any{"op": 2, "d": map[string]any{
		"token": token, "intents": w.intents,
		"properties": map[string]string{"os": "linux", "browser": "accord-bench", "device": "accord-bench"},
	}})
	if err := c.write(ident); err != nil {
		return fmt.Errorf("identify: %w", err)
	}
	// Heartbeat as clients do: first after interval × jitter, then every
	// interval. Timers, not goroutines, so idle connections stay cheap
	// for the load generator too.
	iv := time.Duration(hello.D.Interval) * time.Millisecond
	var beat func()
	beat = func() {
		b := []byte(`{"op":1,"d":` + strconv.FormatInt(c.seq.Load(), 10) + `}`)
		if c.write(b) == nil {
			c.hb.Reset(iv)
		}
	}
	// Armed only after c.hb is set: beat uses it.
	c.hb = time.AfterFunc(time.Hour, beat)
	c.hb.Reset(time.Duration(rand.Float64() * float64(iv)))
	for {
		data, err := c.read(buf)
		if err != nil {
			c.hb.Stop()
			return fmt.Errorf("waiting for READY: %w", err)
		}
		c.noteSeq(data)
		if bytes.Contains(data[:min(len(data), 64)], []byte(`"t":"READY"`)) {
			return nil
		}
		if bytes.HasPrefix(data, []byte(`{"op":9`)) {
			c.hb.Stop()
			return errors.New("invalid session")
		}
	}
}

// noteSeq keeps the last dispatch sequence for heartbeats. The server
// writes dispatches as {"op":0,"s":N,...}.
func (c *wconn) noteSeq(data []byte) {
	const pre = `{"op":0,"s":`
	if !bytes.HasPrefix(data, []byte(pre)) {
		return
	}
	rest := data[len(pre):]
	end := bytes.IndexByte(rest, ',')
	if end < 0 {
		return
	}
	if s, err := strconv.ParseInt(string(rest[:end]), 10, 64); err == nil {
		c.seq.Store(s)
	}
}

// hasPing reports whether a Centrifugo frame carries a ping: an empty
// object on a line of its own, possibly batched with publications.
func hasPing(data []byte) bool {
	for line := range bytes.Lines(data) {
		if bytes.Equal(bytes.TrimSpace(line), []byte("{}")) {
			return true
		}
	}
	return false
}

// centrifugoHandshake connects anonymously and subscribes to the channel
// with Centrifugo's JSON protocol.
func (w *worker) centrifugoHandshake(c *wconn, buf *bytes.Buffer) error {
	_ = c.ws.SetReadDeadline(time.Now().Add(60 * time.Second))
	defer c.ws.SetReadDeadline(time.Time{})
	cmds := []string{`{"id":1,"connect":{}}`, `{"id":2,"subscribe":{"channel":` + strconv.Quote(w.channel) + `}}`}
	for i, cmd := range cmds {
		if err := c.write([]byte(cmd)); err != nil {
			return err
		}
		want := []byte(`"id":` + strconv.Itoa(i+1) + `,`)
		for {
			data, err := c.read(buf)
			if err != nil {
				return fmt.Errorf("%s: %w", cmd, err)
			}
			if !bytes.Contains(data, want) {
				if hasPing(data) {
					_ = c.write([]byte("{}"))
				}
				continue
			}
			if bytes.Contains(data, []byte(`"error"`)) {
				return fmt.Errorf("%s: %s", cmd, truncate(data))
			}
			break
		}
	}
	return nil
}

// readTokens reads a token file, one a line.
func readTokens(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(raw)), nil
}

// parseSrc parses "127.0.0.2-127.0.0.9" (last octet range) or a comma
// list; empty means the kernel's choice.
func parseSrc(s string) ([]net.IP, error) {
	if s == "" {
		return []net.IP{nil}, nil
	}
	var out []net.IP
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a := net.ParseIP(lo).To4()
		if a == nil {
			return nil, fmt.Errorf("--src: %q is not an IPv4 address", lo)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b := net.ParseIP(hi).To4()
		if b == nil || !bytes.Equal(a[:3], b[:3]) || b[3] < a[3] {
			return nil, fmt.Errorf("--src: %q is not a range within one /24", part)
		}
		for o := int(a[3]); o <= int(b[3]); o++ {
			out = append(out, net.IPv4(a[0], a[1], a[2], byte(o)).To4())
		}
	}
	return out, nil
}
