package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// A gateway-worker is one load-generator process: it holds --count
// WebSocket connections (Accord gateway or Centrifugo) and timestamps
// every benchmark message they receive. The coordinator (gateway.go,
// centrifugo.go, procs.go) starts several, because one process may hold
// at most 20,000 open files on this machine. It drives them over stdin
// (one command a line) and they answer on stdout (one JSON object a
// line); stderr is for humans.
//
//	→ {"ev":"ready",...}    after every connection has identified/subscribed (or failed)
//	← start RUNID            record messages tagged "bench RUNID ", from now
//	← count                  → {"ev":"count",...}
//	← report                 → {"ev":"report",...} with every latency
//	← quit (or EOF)          close everything and exit

// workerMsg is every line a worker writes; unused fields stay empty.
type workerMsg struct {
	Ev          string  `json:"ev"`
	OK          int     `json:"ok,omitempty"`
	Failed      int     `json:"failed,omitempty"`
	FirstErr    string  `json:"first_err,omitempty"`
	Seconds     float64 `json:"seconds,omitempty"`
	N           int64   `json:"n,omitempty"`
	Alive       int64   `json:"alive,omitempty"`
	Closed      int64   `json:"closed,omitempty"`
	CloseSample string  `json:"close_sample,omitempty"`
	Bytes       int64   `json:"bytes,omitempty"`
	LastRecv    int64   `json:"last_recv,omitempty"` // unix nanos of the last recorded delivery
	LatUS       []int32 `json:"lat_us,omitempty"`
	// Seqs counts the deliveries of each message by sequence number, so
	// the coordinator can tell missing, duplicate and unacknowledged ones
	// apart.
	Seqs map[int]int64 `json:"seqs,omitempty"`
}

type worker struct {
	proto   string // "accord" or "centrifugo"
	url     string
	tokens  []string
	intents int
	channel string
	dialers []*websocket.Dialer
	offset  int

	marker atomic.Pointer[[]byte] // "bench RUNID ", nil until start
	mu     sync.Mutex
	lat    []int32
	seqs   map[int]int64
	n      int64
	bytes  int64
	last   int64

	alive, closed atomic.Int64
	quitting      atomic.Bool
	closeMu       sync.Mutex
	closeSample   string
	conns         sync.Map // *wconn → struct{}
}

// wconn is one client connection; writes (identify, heartbeats, pongs)
// may come from the reader and a heartbeat timer at once.
type wconn struct {
	ws  *websocket.Conn
	wmu sync.Mutex
	seq atomic.Int64 // last dispatch sequence (Accord)
	hb  *time.Timer
}

func (c *wconn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// read returns the next message in buf (reused, so that receiving costs
// the load generator no allocation per message).
func (c *wconn) read(buf *bytes.Buffer) ([]byte, error) {
	_, r, err := c.ws.NextReader()
	if err != nil {
		return nil, err
	}
	buf.Reset()
	_, err = buf.ReadFrom(r)
	return buf.Bytes(), err
}

func runGatewayWorker(args []string) error {
	w := &worker{}
	fs := flag.NewFlagSet("gateway-worker", flag.ContinueOnError)
	fs.StringVar(&w.proto, "proto", "accord", "accord or centrifugo")
	fs.StringVar(&w.url, "url", "", "WebSocket URL")
	tokens := fs.String("tokens", "", "token file (accord)")
	from := fs.Int("from", 0, "first token (line) this worker uses")
	count := fs.Int("count", 0, "connections")
	fs.IntVar(&w.intents, "intents", 0, "IDENTIFY intents (accord)")
	fs.StringVar(&w.channel, "channel", "bench", "channel to subscribe to (centrifugo)")
	src := fs.String("src", "", "source addresses, e.g. 127.0.0.2-127.0.0.9")
	fs.IntVar(&w.offset, "src-offset", 0, "connection number of the first connection, for rotating --src")
	ramp := fs.Int("ramp", 500, "connections opened per second")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if w.url == "" || *count < 1 || *ramp < 1 {
		return errors.New("need --url, --count ≥ 1, --ramp ≥ 1")
	}
	if w.proto == "accord" {
		all, err := readTokens(*tokens)
		if err != nil {
			return err
		}
		if *from < 0 || *from+*count > len(all) {
			return fmt.Errorf("tokens %d–%d: %s has %d", *from, *from+*count-1, *tokens, len(all))
		}
		w.tokens = all[*from : *from+*count]
	}
	ips, err := parseSrc(*src)
	if err != nil {
		return err
	}
	for _, ip := range ips {
		nd := &net.Dialer{Timeout: 30 * time.Second}
		if ip != nil {
			nd.LocalAddr = &net.TCPAddr{IP: ip}
		}
		// Small buffers: 15,000 connections' worth must fit in the load
		// generator too, and messages are about 1 KB.
		w.dialers = append(w.dialers, &websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: 60 * time.Second,
			ReadBufferSize: 2048, WriteBufferSize: 1024})
	}
	out := json.NewEncoder(os.Stdout)
	start := time.Now()
	var wg sync.WaitGroup
	var fmu sync.Mutex
	var failed int
	var firstErr string
	tick := time.NewTicker(time.Second / time.Duration(*ramp))
	for i := range *count {
		wg.Add(1)
		go w.serve(i, func(err error) {
			if err != nil {
				fmu.Lock()
				if failed++; firstErr == "" {
					firstErr = err.Error()
				}
				fmu.Unlock()
			}
			wg.Done()
		})
		<-tick.C
	}
	tick.Stop()
	wg.Wait()
	_ = out.Encode(workerMsg{Ev: "ready", OK: *count - failed, Failed: failed, FirstErr: firstErr, Seconds: time.Since(start).Seconds()})

	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		switch cmd {
		case "start":
			m := []byte("bench " + arg + " ")
			w.mu.Lock()
			w.lat, w.seqs, w.n, w.bytes, w.last = make([]int32, 0, 1<<16), map[int]int64{}, 0, 0, 0
			w.mu.Unlock()
			w.marker.Store(&m)
		case "count":
			w.mu.Lock()
			n := w.n
			w.mu.Unlock()
			_ = out.Encode(workerMsg{Ev: "count", N: n, Alive: w.alive.Load(), Closed: w.closed.Load()})
		case "report":
			w.mu.Lock()
			msg := workerMsg{Ev: "report", N: w.n, Bytes: w.bytes, LastRecv: w.last, LatUS: w.lat, Seqs: w.seqs, Alive: w.alive.Load(), Closed: w.closed.Load()}
			w.closeMu.Lock()
			msg.CloseSample = w.closeSample
			w.closeMu.Unlock()
			_ = out.Encode(msg)
			w.mu.Unlock()
		case "quit":
			w.shutdown()
			return nil
		}
	}
	w.shutdown() // stdin closed: the coordinator is gone
	return sc.Err()
}

func (w *worker) shutdown() {
	w.quitting.Store(true)
	w.conns.Range(func(k, _ any) bool {
		k.(*wconn).ws.Close()
		return true
	})
}

// serve opens connection i, performs the handshake, calls ready once,
// then reads until the connection ends.
func (w *worker) serve(i int, ready func(error)) {
	d := w.dialers[(w.offset+i)%len(w.dialers)]
	ws, _, err := d.Dial(w.url, nil)
	if err != nil {
		ready(err)
		return
	}
	c := &wconn{ws: ws}
	w.conns.Store(c, struct{}{})
	defer w.conns.Delete(c)
	defer ws.Close()
	var buf bytes.Buffer
	switch w.proto {
	case "accord":
		err = w.accordHandshake(c, &buf, w.tokens[i])
	default:
		err = w.centrifugoHandshake(c, &buf)
	}
	if err != nil {
		ready(err)
		return
	}
	w.alive.Add(1)
	ready(nil)
	for {
		data, err := c.read(&buf)
		if err != nil {
			if c.hb != nil {
				c.hb.Stop()
			}
			w.alive.Add(-1)
			if !w.quitting.Load() {
				w.closed.Add(1)
				w.closeMu.Lock()
				if w.closeSample == "" {
					w.closeSample = err.Error()
				}
				w.closeMu.Unlock()
			}
			return
		}
		now := time.Now().UnixNano()
		w.scan(data, now)
		if w.proto == "accord" {
			c.noteSeq(data)
		} else if hasPing(data) {
			// Centrifugo's ping; the client answers with an empty command.
			_ = c.write([]byte("{}"))
		}
	}
}

// scan records every benchmark message in data: "bench RUNID SEQ TS",
// TS the sender's unix nanos. A Centrifugo frame may carry several
// publications, one a line; an Accord frame carries one dispatch.
func (w *worker) scan(data []byte, now int64) {
	mp := w.marker.Load()
	if mp == nil {
		return
	}
	m := *mp
	size := int64(len(data))
	for {
		i := bytes.Index(data, m)
		if i < 0 {
			return
		}
		data = data[i+len(m):]
		f := bytes.Fields(data[:min(len(data), 48)]) // SEQ TS filler…
		if len(f) < 2 {
			continue
		}
		seq, err1 := strconv.Atoi(string(f[0]))
		ts, err2 := strconv.ParseInt(string(bytes.TrimRight(f[1], `"`)), 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		us := (now - ts) / 1000
		w.mu.Lock()
		w.lat = append(w.lat, int32(min(us, 1<<31-1)))
		w.seqs[seq]++
		w.n++
		w.bytes += size
		w.last = max(w.last, now)
		w.mu.Unlock()
		size = 0 // count a batched frame's bytes once
	}
}
