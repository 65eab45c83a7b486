package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/accord-chat/accord/internal/voiceclient"
)

// runVoice measures the SFU with bots' UDP voice: --channels voice
// channels of --size members, --speakers of whom talk (50 Opus packets a
// second each, carrying their send time), everyone else listening. It
// reports the down-tracks (speaker → listener streams), the server's CPU
// over the window, down-tracks per server core, loss (packets a listener
// should have got and did not) and the latency from send to receive,
// through the node, on this machine's clock.
//
// The members are the tokens of seed-guild (the owner first, who makes the
// channels); each identifies on the gateway, joins its channel with op 4
// and connects to the voice server VOICE_SERVER_UPDATE names.
func runVoice(args []string) error {
	fs := flag.NewFlagSet("voice", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "the node")
	tokens := fs.String("tokens", "", "token file of seed-guild (owner first)")
	channels := fs.Int("channels", 10, "voice channels")
	size := fs.Int("size", 10, "members per channel")
	speakers := fs.Int("speakers", 2, "speakers per channel")
	dur := fs.Duration("duration", 20*time.Second, "measured window")
	warm := fs.Duration("warmup", 3*time.Second, "talking before the window opens")
	pid := fs.Int("server-pid", 0, "the server's PID, for its CPU")
	out := fs.String("json", "", "write the result here too")
	if err := fs.Parse(args); err != nil {
		return err
	}
	raw, err := os.ReadFile(*tokens)
	if err != nil {
		return fmt.Errorf("--tokens: %w", err)
	}
	toks := strings.Fields(string(raw))
	need := 1 + *channels**size
	if len(toks) < need || *speakers > *size {
		return fmt.Errorf("%d tokens for %d channels of %d (and the owner): need %d", len(toks), *channels, *size, need)
	}
	owner, err := newAPI(*base, toks[0], 0)
	if err != nil {
		return err
	}
	ctx := context.Background()
	guild, err := firstGuild(ctx, owner)
	if err != nil {
		return err
	}
	chans := make([]string, *channels)
	for i := range chans {
		st, body, err := owner.do(ctx, "POST", "/guilds/"+guild+"/channels", map[string]any{"name": fmt.Sprintf("voice-%d", i), "type": 2})
		var c struct {
			ID string `json:"id"`
		}
		if err != nil || st != 201 || json.Unmarshal(body, &c) != nil {
			return fmt.Errorf("create voice channel: %d %s %v", st, body, err)
		}
		chans[i] = c.ID
	}

	lat := &latencies{}
	var received, sentCounted atomic.Int64
	// The window, in unix nanos of send time: a packet counts, sent and
	// received, when it was sent inside it (received late is still loss
	// only if it never comes).
	var winStart, winEnd atomic.Int64
	winStart.Store(1 << 62)
	winEnd.Store(1 << 62)
	inWindow := func(sent int64) bool { return sent >= winStart.Load() && sent < winEnd.Load() }
	type member struct {
		n       *voiceclient.Native
		speaker bool
	}
	members := make([]member, *channels**size)
	var wg sync.WaitGroup
	errs := make(chan error, len(members))
	sem := make(chan struct{}, 32) // joins at once
	start := time.Now()
	for i := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			onPacket := func(_ uint32, _ uint16, payload []byte) {
				if len(payload) < 8 {
					return
				}
				sent := int64(binary.BigEndian.Uint64(payload))
				if !inWindow(sent) {
					return
				}
				lat.add(time.Duration(time.Now().UnixNano() - sent))
				received.Add(1)
			}
			n, err := joinVoiceNative(ctx, *base, toks[1+i], guild, chans[i / *size], i, onPacket)
			if err != nil {
				errs <- fmt.Errorf("member %d: %w", i, err)
				return
			}
			members[i] = member{n: n, speaker: i%*size < *speakers}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("joined %d members in %d channels in %v\n", len(members), *channels, time.Since(start).Round(time.Millisecond))
	defer func() {
		for _, m := range members {
			m.n.Close()
		}
	}()

	stop := make(chan struct{})
	var talkers sync.WaitGroup
	for _, m := range members {
		if !m.speaker {
			continue
		}
		talkers.Add(1)
		go func(n *voiceclient.Native) {
			defer talkers.Done()
			_ = n.Speaking(true)
			payload := make([]byte, 80) // about a 20 ms Opus frame at 32 kb/s
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					now := time.Now().UnixNano()
					binary.BigEndian.PutUint64(payload, uint64(now))
					if n.Send(payload) == nil && inWindow(now) {
						sentCounted.Add(1)
					}
				}
			}
		}(m.n)
	}
	time.Sleep(*warm)
	cpu0 := procTicks(*pid)
	self0 := procTicks(os.Getpid())
	t0 := time.Now()
	winEnd.Store(1 << 62)
	winStart.Store(t0.UnixNano())
	time.Sleep(*dur)
	t1 := time.Now()
	winEnd.Store(t1.UnixNano())
	elapsed := t1.Sub(t0)
	cpu1, self1 := procTicks(*pid), procTicks(os.Getpid())
	time.Sleep(time.Second) // packets sent in the window land
	close(stop)
	talkers.Wait()

	listeners := *size - 1
	down := *channels * *speakers * listeners
	expected := sentCounted.Load() * int64(listeners)
	got := received.Load()
	const ticksPerSecond = 100 // USER_HZ
	serverCores := float64(cpu1-cpu0) / ticksPerSecond / elapsed.Seconds()
	genCores := float64(self1-self0) / ticksPerSecond / elapsed.Seconds()
	res := map[string]any{
		"channels": *channels, "size": *size, "speakers": *speakers, "down_tracks": down,
		"server_cores": serverCores, "loadgen_cores": genCores,
		"packets_expected": expected, "packets_received": got,
		"p50_ms": lat.pct(0.50), "p99_ms": lat.pct(0.99), "max_ms": lat.pct(1),
	}
	loss := 0.0
	if expected > 0 {
		loss = 1 - float64(got)/float64(expected)
	}
	res["loss"] = loss
	perCore := 0.0
	if serverCores > 0 {
		perCore = float64(down) / serverCores
	}
	res["down_tracks_per_core"] = perCore
	fmt.Printf("%d channels of %d, %d speakers each: %d down-tracks; server %.2f cores (%.0f down-tracks per core), load generator %.2f cores\n",
		*channels, *size, *speakers, down, serverCores, perCore, genCores)
	fmt.Printf("packets: %d expected, %d received, loss %.3f%%; latency send→receive p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
		expected, got, 100*loss, res["p50_ms"], res["p99_ms"], res["max_ms"])
	if *out != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		return os.WriteFile(*out, b, 0o644)
	}
	return nil
}

// firstGuild is the owner's guild (seed-guild made one).
func firstGuild(ctx context.Context, a *api) (string, error) {
	st, body, err := a.do(ctx, "GET", "/users/@me/guilds", nil)
	var gs []struct {
		ID string `json:"id"`
	}
	if err != nil || st != 200 || json.Unmarshal(body, &gs) != nil || len(gs) == 0 {
		return "", fmt.Errorf("the owner's guild: %d %s %v", st, body, err)
	}
	return gs[0].ID, nil
}

// joinVoiceNative identifies token on the gateway (no intents: it needs
// only its own voice events), joins channel and connects to the voice
// server it is sent to. The gateway connection stays open (closing it
// would end the voice state); it is not read again.
func joinVoiceNative(ctx context.Context, base, token, guild, channel string, n int, onPacket func(uint32, uint16, []byte)) (*voiceclient.Native, error) {
	u, _ := url.Parse(base)
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+u.Host+"/gateway?v=10&encoding=json", nil)
	if err != nil {
		return nil, err
	}
	_ = ws.SetReadDeadline(time.Now().Add(time.Minute))
	send := func(op int, d any) error { return ws.WriteJSON(map[string]any{"op": op, "d": d}) }
	if err := send(2, map[string]any{"token": token, "intents": 0, "properties": map[string]any{"os": "linux", "browser": "accord-bench", "device": "accord-bench"}}); err != nil {
		return nil, err
	}
	var session, vtoken, endpoint string
	for endpoint == "" {
		var m struct {
			Op int             `json:"op"`
			T  string          `json:"t"`
			D  json.RawMessage `json:"d"`
		}
		if err := ws.ReadJSON(&m); err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		switch m.T {
		case "READY":
			var r struct {
				SessionID string `json:"session_id"`
			}
			_ = json.Unmarshal(m.D, &r)
			session = r.SessionID
			if err := send(4, map[string]any{"guild_id": guild, "channel_id": channel, "self_mute": false, "self_deaf": false}); err != nil {
				return nil, err
			}
		case "VOICE_SERVER_UPDATE":
			var v struct {
				Token    string `json:"token"`
				Endpoint string `json:"endpoint"`
			}
			_ = json.Unmarshal(m.D, &v)
			vtoken, endpoint = v.Token, v.Endpoint
		}
	}
	// Keep the session: a goroutine heartbeats and drains it.
	go gatewayKeepalive(ws)
	var me struct {
		ID string `json:"id"`
	}
	a, _ := newAPI(base, token, n)
	st, body, err := a.do(ctx, "GET", "/users/@me", nil)
	if err != nil || st != 200 || json.Unmarshal(body, &me) != nil {
		return nil, fmt.Errorf("users/@me: %d %v", st, err)
	}
	a.close()
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return voiceclient.DialNative(dctx, voiceclient.NativeOptions{Options: voiceclient.Options{URL: "ws://" + endpoint + "?v=8",
		ServerID: guild, UserID: me.ID, SessionID: session, Token: vtoken}, OnPacket: onPacket})
}

// gatewayKeepalive heartbeats a gateway connection every 40 s (Discord's
// interval is 41.25 s) and reads and drops what arrives.
func gatewayKeepalive(ws *websocket.Conn) {
	_ = ws.SetReadDeadline(time.Time{})
	go func() {
		for {
			time.Sleep(40 * time.Second)
			if ws.WriteJSON(map[string]any{"op": 1, "d": nil}) != nil {
				return
			}
		}
	}()
	for {
		if _, _, err := ws.NextReader(); err != nil {
			return
		}
	}
}

// latencies keeps every sample (a run holds a few million at most).
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// pct is the p-th quantile in milliseconds.
func (l *latencies) pct(p float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	i := int(p * float64(len(l.d)-1))
	return float64(l.d[i]) / 1e6
}
