// Package voice_test runs voice end to end against a real node: gateway
// op 4, VOICE_SERVER_UPDATE, the voice gateway and WebRTC media through
// the SFU, with the project's own pion client (internal/voiceclient).
package voice_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/core/secret"
	"github.com/accord-chat/accord/edge/node"
	"github.com/accord-chat/accord/internal/accordtest"
	"github.com/accord-chat/accord/internal/config"
	"github.com/accord-chat/accord/internal/voiceclient"
)

func init() { secret.BcryptCost = bcrypt.MinCost }

// freeAddr returns a loopback port free for TCP and UDP a moment ago
// (the node serves its API and its media on the same number).
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if pc, err := net.ListenPacket("udp", addr); err == nil {
			pc.Close()
			return addr
		}
	}
	t.Fatal("no port free for both TCP and UDP")
	return ""
}

// world is a node with a guild, a voice channel and members in it.
type world struct {
	t     *testing.T
	node  *node.Node
	api   accordtest.API
	base  string
	owner accordtest.User
	guild string
	voice string // the voice channel
	code  string // an invite
}

func newWorld(t *testing.T) *world {
	t.Helper()
	addr := freeAddr(t)
	cfg := config.Default()
	cfg.Listen, cfg.Data, cfg.PublicURL, cfg.RateLimits = addr, t.TempDir(), "http://"+addr, "off"
	cfg.Voice.TURN = "127.0.0.1:0"
	n, err := node.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	w := &world{t: t, node: n, base: cfg.PublicURL}
	w.api = accordtest.API{T: t, Base: w.base}
	w.owner = w.api.Register("owner")
	w.guild = w.api.Must("POST", "/guilds", w.owner.Token, map[string]any{"name": "voice"}, 201)["id"].(string)
	w.voice = w.api.Must("POST", "/guilds/"+w.guild+"/channels", w.owner.Token, map[string]any{"name": "talk", "type": 2}, 201)["id"].(string)
	w.code = w.api.Must("POST", "/channels/"+w.voice+"/invites", w.owner.Token, map[string]any{}, 200)["code"].(string)
	return w
}

// metrics reads the node's /metrics (the test is local, so allowed):
// each unlabelled sample by name.
func (w *world) metrics() map[string]float64 {
	w.t.Helper()
	res, err := http.Get(w.base + "/metrics")
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(raw), "\n") {
		name, v, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[name] = f
		}
	}
	return out
}

// member registers a user who joins the guild.
func (w *world) member(name string) accordtest.User {
	u := w.api.Register(name)
	w.api.Must("POST", "/invites/"+w.code, u.Token, nil, 200)
	return u
}

// joined is a user in the voice channel: their gateway and voice server.
type joined struct {
	user     accordtest.User
	gw       *accordtest.Gateway
	token    string
	endpoint string
}

// joinVoice sends op 4 for the user and waits for VOICE_STATE_UPDATE and
// VOICE_SERVER_UPDATE.
func (w *world) joinVoice(u accordtest.User, channel string) *joined {
	w.t.Helper()
	gw := accordtest.DialGateway(w.t, w.base, u.Token)
	gw.Send(4, map[string]any{"guild_id": w.guild, "channel_id": channel, "self_mute": false, "self_deaf": false})
	vs := gw.Wait("VOICE_STATE_UPDATE", func(d map[string]any) bool { return d["user_id"] == u.ID && d["channel_id"] == channel })
	if vs["session_id"] != gw.SessionID {
		w.t.Fatalf("voice state session %v, want the gateway session %s", vs["session_id"], gw.SessionID)
	}
	su := gw.Wait("VOICE_SERVER_UPDATE", nil)
	if su["guild_id"] != w.guild || su["token"] == "" || !strings.HasSuffix(su["endpoint"].(string), "/voice") {
		w.t.Fatalf("VOICE_SERVER_UPDATE %v", su)
	}
	return &joined{user: u, gw: gw, token: su["token"].(string), endpoint: su["endpoint"].(string)}
}

func (j *joined) options(w *world) voiceclient.Options {
	return voiceclient.Options{URL: "ws://" + j.endpoint + "?v=8", ServerID: w.guild, UserID: j.user.ID,
		SessionID: j.gw.SessionID, Token: j.token}
}

func (j *joined) dial(t *testing.T, w *world) *voiceclient.Client {
	t.Helper()
	c, err := voiceclient.Dial(context.Background(), j.options(w))
	if err != nil {
		t.Fatalf("voice connect for %s: %v", j.user.ID, err)
	}
	t.Cleanup(c.Close)
	return c
}

// sendAll has each client send a packet every 20 ms until the test ends;
// loud(i) says whether client i is talking.
func sendAll(t *testing.T, loud func(i int) bool, cs ...*voiceclient.Client) {
	for i, c := range cs {
		t.Cleanup(c.Talk(func() bool { return loud(i) }))
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	accordtest.WaitFor(t, what, cond)
}

// TestThreeClientsInOneChannel: three clients send Opus; each receives
// the two others' streams with sequence numbers that follow on and
// timestamps that never go back; the loud one is reported speaking;
// server mute, deafen and a missing SPEAK permission hold back exactly
// the packets they should, and lifting them restores the flow without a
// gap in the numbering.
func TestThreeClientsInOneChannel(t *testing.T) {
	w := newWorld(t)
	names := []string{"alice", "bob", "carol"}
	users := make([]accordtest.User, 3)
	js := make([]*joined, 3)
	cs := make([]*voiceclient.Client, 3)
	for i, name := range names {
		users[i] = w.member(name)
		js[i] = w.joinVoice(users[i], w.voice)
		cs[i] = js[i].dial(t, w)
	}
	sendAll(t, func(i int) bool { return i == 0 }, cs...) // alice talks, the others are quiet

	// received: how many packets i got from j.
	received := func(i, j int) int { return cs[i].Stream(users[j].ID).Packets }
	flowing := func(what string, pairs ...[2]int) {
		t.Helper()
		base := make([]int, len(pairs))
		for k, p := range pairs {
			base[k] = received(p[0], p[1])
		}
		waitFor(t, what, func() bool {
			for k, p := range pairs {
				if received(p[0], p[1]) < base[k]+25 {
					return false
				}
			}
			return true
		})
	}
	// held: no packet from j reaches i over a second (after the change
	// had time to reach the SFU and the packets in flight to land).
	held := func(what string, pairs ...[2]int) {
		t.Helper()
		time.Sleep(300 * time.Millisecond)
		base := make([]int, len(pairs))
		for k, p := range pairs {
			base[k] = received(p[0], p[1])
		}
		time.Sleep(time.Second)
		for k, p := range pairs {
			if got := received(p[0], p[1]); got != base[k] {
				t.Fatalf("%s: %s got %d packets from %s while held", what, names[p[0]], got-base[k], names[p[1]])
			}
		}
	}
	all := [][2]int{{0, 1}, {0, 2}, {1, 0}, {1, 2}, {2, 0}, {2, 1}}
	flowing("each client receiving both others", all...)
	for _, p := range all {
		s := cs[p[0]].Stream(users[p[1]].ID)
		if s.Gaps != 0 || s.TSBackwards != 0 || !s.PayloadTypes[111] {
			t.Fatalf("%s from %s: %+v, want consecutive sequence numbers, rising timestamps, Opus", names[p[0]], names[p[1]], s)
		}
	}
	for i, c := range cs {
		if n := len(c.Messages(11)); n == 0 && i < 2 {
			t.Fatalf("%s got no Clients Connect", names[i])
		}
	}
	speaking := func(c *voiceclient.Client, uid string, flag int) bool {
		for _, m := range c.Messages(5) {
			if strings.Contains(string(m.D), `"user_id":"`+uid+`"`) && strings.Contains(string(m.D), `"speaking":`+strconv.Itoa(flag)) {
				return true
			}
		}
		return false
	}
	waitFor(t, "bob told alice is speaking", func() bool { return speaking(cs[1], users[0].ID, 1) })
	if speaking(cs[0], users[0].ID, 1) {
		t.Fatal("alice was told about her own speaking")
	}
	for _, m := range cs[1].Messages(5) {
		if strings.Contains(string(m.D), users[2].ID) {
			t.Fatalf("carol sends silence but was reported: %s", m.D)
		}
	}

	member := func(u accordtest.User, body map[string]any) {
		t.Helper()
		w.api.Must("PATCH", "/guilds/"+w.guild+"/members/"+u.ID, w.owner.Token, body, 200)
	}
	// Server mute of bob.
	member(users[1], map[string]any{"mute": true})
	held("bob server-muted", [2]int{0, 1}, [2]int{2, 1})
	flowing("others unaffected by bob's mute", [2]int{1, 0}, [2]int{0, 2})
	member(users[1], map[string]any{"mute": false})
	flowing("bob unmuted", [2]int{0, 1}, [2]int{2, 1})

	// Server deafen of carol: she gets nothing; she is still heard.
	member(users[2], map[string]any{"deaf": true})
	held("carol deafened", [2]int{2, 0}, [2]int{2, 1})
	flowing("carol heard while deafened", [2]int{0, 2}, [2]int{1, 2})
	member(users[2], map[string]any{"deaf": false})
	flowing("carol undeafened", [2]int{2, 0}, [2]int{2, 1})

	// Carol without SPEAK in the channel: heard by no one.
	w.api.Must("PUT", "/channels/"+w.voice+"/permissions/"+users[2].ID, w.owner.Token,
		map[string]any{"type": 1, "deny": strconv.FormatUint(perm.Speak, 10), "allow": "0"}, 204)
	held("carol without SPEAK", [2]int{0, 2}, [2]int{1, 2})
	w.api.Must("DELETE", "/channels/"+w.voice+"/permissions/"+users[2].ID, w.owner.Token, nil, 204)
	flowing("carol with SPEAK again", [2]int{0, 2}, [2]int{1, 2})

	// Through all of it nobody saw a gap: withheld packets are not
	// renumbered into holes a receiver would ask for.
	for _, p := range all {
		if s := cs[p[0]].Stream(users[p[1]].ID); s.Gaps != 0 || s.TSBackwards != 0 {
			t.Fatalf("%s from %s after mute/deafen/SPEAK: %+v", names[p[0]], names[p[1]], s)
		}
	}

	// The node's metrics saw the call: three participants with a track
	// each, packets in and (twice as many) out, and the held-back ones.
	m := w.metrics()
	if m["accord_voice_participants"] != 3 || m["accord_voice_tracks"] != 3 || m["accord_voice_rooms"] != 1 {
		t.Fatalf("participants %v, tracks %v, rooms %v; want 3, 3, 1", m["accord_voice_participants"], m["accord_voice_tracks"], m["accord_voice_rooms"])
	}
	in, out := m["accord_voice_packets_in_total"], m["accord_voice_packets_out_total"]
	if in < 150 || out < in || out > 2*in || m["accord_voice_packets_withheld_total"] < 50 || m["accord_voice_bytes_out_total"] < 3*out {
		t.Fatalf("packets in %v, out %v, withheld %v, bytes out %v", in, out, m["accord_voice_packets_withheld_total"], m["accord_voice_bytes_out_total"])
	}

	// Bob leaves the channel: his voice session ends with 4014 and the
	// others are told.
	js[1].gw.Send(4, map[string]any{"guild_id": w.guild, "channel_id": nil, "self_mute": false, "self_deaf": false})
	waitFor(t, "bob's voice session closed with 4014", func() bool { return cs[1].CloseCode() == 4014 })
	waitFor(t, "alice told bob disconnected", func() bool {
		for _, m := range cs[0].Messages(13) {
			if strings.Contains(string(m.D), users[1].ID) {
				return true
			}
		}
		return false
	})
}

// closeCode dials with opts and returns the close code the server ends
// the connection with.
func closeCode(t *testing.T, opts voiceclient.Options) int {
	t.Helper()
	c, err := voiceclient.Dial(context.Background(), opts)
	if err == nil {
		defer c.Close()
		waitFor(t, "the server to close the voice connection", func() bool { return c.CloseCode() != 0 })
		return c.CloseCode()
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("dial: %v (no close code)", err)
	}
	return ce.Code
}

// rawVoice opens the voice gateway and sends frames as they are.
func rawVoice(t *testing.T, endpoint string, frames ...string) int {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+endpoint+"?v=8", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, f := range frames {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(f)); err != nil {
			break
		}
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			return -1
		}
	}
}

// TestVoiceGatewayRefuses: bad tokens, reused tokens, bad frames, bad SDP,
// a member who may not connect and a full channel each get Discord's
// close code (or, for op 4, no voice state), and the node goes on.
func TestVoiceGatewayRefuses(t *testing.T) {
	w := newWorld(t)
	eve := w.member("eve")
	j := w.joinVoice(eve, w.voice)

	forged := j.options(w)
	forged.Token = "AAAA" + j.token[4:]
	if code := closeCode(t, forged); code != 4004 {
		t.Fatalf("forged token: close %d, want 4004", code)
	}
	other := j.options(w)
	other.SessionID = "not-the-session"
	if code := closeCode(t, other); code != 4004 {
		t.Fatalf("token of another session: close %d, want 4004", code)
	}
	c := j.dial(t, w)
	waitFor(t, "eve's media up", c.Connected)
	if code := closeCode(t, j.options(w)); code != 4006 {
		t.Fatalf("reused token: close %d, want 4006", code)
	}

	hello := `{"op":0,"d":{"server_id":"` + w.guild + `","user_id":"` + eve.ID + `","session_id":"x","token":"y"}}`
	for _, tc := range []struct {
		name   string
		frames []string
		code   int
	}{
		{"not JSON", []string{"{nope"}, 4002},
		{"unknown opcode", []string{`{"op":99,"d":{}}`}, 4001},
		{"select protocol before identify", []string{`{"op":1,"d":{"protocol":"webrtc","data":"v=0"}}`}, 4003},
		{"identify with a bad token", []string{hello}, 4004},
		{"identify without fields", []string{`{"op":0,"d":{"server_id":[]}}`}, 4002},
	} {
		if code := rawVoice(t, j.endpoint, tc.frames...); code != tc.code {
			t.Errorf("%s: close %d, want %d", tc.name, code, tc.code)
		}
	}

	// Malformed SDP: a fresh token (a new VOICE_SERVER_UPDATE after
	// rejoining) then garbage as the offer.
	frank := w.member("frank")
	jf := w.joinVoice(frank, w.voice)
	id := `{"op":0,"d":{"server_id":"` + w.guild + `","user_id":"` + frank.ID + `","session_id":"` + jf.gw.SessionID + `","token":"` + jf.token + `"}}`
	if code := rawVoice(t, jf.endpoint, id, `{"op":1,"d":{"protocol":"webrtc","data":"v=0\r\nnot sdp"}}`); code != 4020 {
		t.Errorf("malformed SDP: close %d, want 4020", code)
	}

	// A member who lost CONNECT between op 4 and Identify.
	gina := w.member("gina")
	jg := w.joinVoice(gina, w.voice)
	w.api.Must("PUT", "/channels/"+w.voice+"/permissions/"+gina.ID, w.owner.Token,
		map[string]any{"type": 1, "deny": strconv.FormatUint(perm.Connect, 10), "allow": "0"}, 204)
	if code := closeCode(t, jg.options(w)); code != 4014 {
		t.Fatalf("identify without CONNECT: close %d, want 4014", code)
	}

	// A full channel: op 4 into it records nothing.
	one := 1
	small := w.api.Must("POST", "/guilds/"+w.guild+"/channels", w.owner.Token, map[string]any{"name": "one", "type": 2, "user_limit": one}, 201)["id"].(string)
	w.joinVoice(w.member("hank"), small)
	ivy := w.member("ivy")
	gw := accordtest.DialGateway(t, w.base, ivy.Token)
	gw.Send(4, map[string]any{"guild_id": w.guild, "channel_id": small, "self_mute": false, "self_deaf": false})
	time.Sleep(time.Second)
	gid, _ := strconv.ParseUint(w.guild, 10, 64)
	uid, _ := strconv.ParseUint(ivy.ID, 10, 64)
	if _, in := w.node.Engine().VoiceStates(engine.ID(gid))[engine.ID(uid)]; in || gw.Has("VOICE_SERVER_UPDATE") {
		t.Fatal("a member got into a full channel")
	}

	// Eve's call went on through all of this.
	if !c.Connected() || c.CloseCode() != 0 {
		t.Fatalf("eve's voice connection did not survive others' bad input (close %d)", c.CloseCode())
	}
}

// TestRelayOnlyThroughTURN: a client allowed only relay candidates gets
// its media through the node's TURN server with the credentials Ready
// handed it, and gets nowhere with forged or expired ones.
func TestRelayOnlyThroughTURN(t *testing.T) {
	w := newWorld(t)
	direct := w.joinVoice(w.member("direct"), w.voice)
	cd := direct.dial(t, w)
	relayed := w.joinVoice(w.member("relayed"), w.voice)
	opts := relayed.options(w)
	opts.RelayOnly = true
	start := time.Now()
	cr, err := voiceclient.Dial(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cr.Close)
	ice, _ := cr.Ready["ice_servers"].([]any)
	if len(ice) == 0 {
		t.Fatalf("Ready without ice_servers: %v", cr.Ready)
	}
	sendAll(t, func(int) bool { return false }, cd, cr)
	waitFor(t, "media both ways through the relay", func() bool {
		return cd.Stream(relayed.user.ID).Packets > 25 && cr.Stream(direct.user.ID).Packets > 25
	})
	t.Logf("relayed media after %s", time.Since(start))
	if typ := cr.SelectedCandidateType(); typ != "relay" {
		t.Fatalf("relay-only client's candidate is %q", typ)
	}

	// The same with credentials the TURN server must refuse.
	srv := ice[0].(map[string]any)
	var urls []string
	for _, u := range srv["urls"].([]any) {
		urls = append(urls, u.(string))
	}
	user := srv["username"].(string)
	for name, cred := range map[string][2]string{
		"forged":  {user, "bm90IHRoZSBwYXNzd29yZA=="},
		"expired": {"1:" + strings.SplitN(user, ":", 2)[1], srv["credential"].(string)},
	} {
		late := w.joinVoice(w.member("late"+name), w.voice)
		o := late.options(w)
		o.RelayOnly = true
		o.ICEServers = []webrtc.ICEServer{{URLs: urls, Username: cred[0], Credential: cred[1]}}
		c, err := voiceclient.Dial(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		// Dial returned after gathering, which the refused allocation
		// ended; a second more is ICE's chance to prove otherwise.
		time.Sleep(time.Second)
		if c.Connected() || c.Stream(direct.user.ID).Packets > 0 {
			t.Fatalf("%s TURN credentials carried media", name)
		}
		c.Close()
	}
}

// TestMoveBetweenChannels: self mute sends no new voice server and keeps
// the voice session; a move ends it with 4014, sends a new
// VOICE_SERVER_UPDATE, and media flows in the new channel.
func TestMoveBetweenChannels(t *testing.T) {
	w := newWorld(t)
	second := w.api.Must("POST", "/guilds/"+w.guild+"/channels", w.owner.Token, map[string]any{"name": "second", "type": 2}, 201)["id"].(string)
	mover := w.joinVoice(w.member("mover"), w.voice)
	stay := w.joinVoice(w.member("stayer"), second)
	cm, cs := mover.dial(t, w), stay.dial(t, w)
	waitFor(t, "media up", func() bool { return cm.Connected() && cs.Connected() })

	mover.gw.Send(4, map[string]any{"guild_id": w.guild, "channel_id": w.voice, "self_mute": true, "self_deaf": false})
	mover.gw.Wait("VOICE_STATE_UPDATE", func(d map[string]any) bool { return d["self_mute"] == true })
	time.Sleep(500 * time.Millisecond)
	if mover.gw.Has("VOICE_SERVER_UPDATE") || cm.CloseCode() != 0 {
		t.Fatalf("self mute sent a voice server or closed the voice session (close %d)", cm.CloseCode())
	}

	mover.gw.Send(4, map[string]any{"guild_id": w.guild, "channel_id": second, "self_mute": false, "self_deaf": false})
	su := mover.gw.Wait("VOICE_SERVER_UPDATE", nil)
	waitFor(t, "the old voice session closed with 4014", func() bool { return cm.CloseCode() == 4014 })
	moved := *mover
	moved.token, moved.endpoint = su["token"].(string), su["endpoint"].(string)
	c2 := moved.dial(t, w)
	sendAll(t, func(int) bool { return false }, c2, cs)
	waitFor(t, "media in the new channel", func() bool {
		return c2.Stream(stay.user.ID).Packets > 25 && cs.Stream(mover.user.ID).Packets > 25
	})
}

// TestModeratorMovesAndDisconnects: PATCH member channel_id moves a
// member in voice as on Discord (MOVE_MEMBERS; the member's client gets
// a new VOICE_SERVER_UPDATE and its old voice session 4014) and null
// disconnects; without MOVE_MEMBERS it is refused, and a member not in
// voice cannot be moved (40032).
func TestModeratorMovesAndDisconnects(t *testing.T) {
	w := newWorld(t)
	second := w.api.Must("POST", "/guilds/"+w.guild+"/channels", w.owner.Token, map[string]any{"name": "second", "type": 2}, 201)["id"].(string)
	moved := w.joinVoice(w.member("moved"), w.voice)
	c := moved.dial(t, w)
	waitFor(t, "media up", c.Connected)
	bystander := w.member("bystander")
	path := "/guilds/" + w.guild + "/members/" + moved.user.ID

	status, body := w.api.Call("PATCH", path, bystander.Token, map[string]any{"channel_id": second})
	if status != 403 || body["code"] != float64(50013) {
		t.Fatalf("a move without MOVE_MEMBERS: %d %v", status, body)
	}
	status, body = w.api.Call("PATCH", "/guilds/"+w.guild+"/members/"+bystander.ID, w.owner.Token, map[string]any{"channel_id": second})
	if status != 400 || body["code"] != float64(40032) {
		t.Fatalf("moving a member not in voice: %d %v, want 400 40032", status, body)
	}

	w.api.Must("PATCH", path, w.owner.Token, map[string]any{"channel_id": second}, 200)
	moved.gw.Wait("VOICE_STATE_UPDATE", func(d map[string]any) bool { return d["user_id"] == moved.user.ID && d["channel_id"] == second })
	su := moved.gw.Wait("VOICE_SERVER_UPDATE", nil)
	waitFor(t, "the old voice session closed with 4014", func() bool { return c.CloseCode() == 4014 })
	again := *moved
	again.token, again.endpoint = su["token"].(string), su["endpoint"].(string)
	c2 := again.dial(t, w)
	waitFor(t, "media in the new channel", c2.Connected)

	w.api.Must("PATCH", path, w.owner.Token, map[string]any{"channel_id": nil}, 200)
	moved.gw.Wait("VOICE_STATE_UPDATE", func(d map[string]any) bool { return d["user_id"] == moved.user.ID && d["channel_id"] == nil })
	waitFor(t, "the voice session closed with 4014", func() bool { return c2.CloseCode() == 4014 })
	gid, _ := strconv.ParseUint(w.guild, 10, 64)
	if vs := w.node.Engine().VoiceStates(engine.ID(gid)); len(vs) != 0 {
		t.Fatalf("voice states after the disconnect: %v", vs)
	}
}

// TestNativeAndWebRTCInOneChannel: the project's bot-style client
// (Discord's UDP voice) and its WebRTC client hear each other through
// the SFU, and the UDP client sees the WebRTC sender under the SSRC a
// Speaking event named for them.
func TestNativeAndWebRTCInOneChannel(t *testing.T) {
	w := newWorld(t)
	bot, user := w.joinVoice(w.member("udpbot"), w.voice), w.joinVoice(w.member("webuser"), w.voice)
	var mu sync.Mutex
	got := map[uint32]int{}
	n, err := voiceclient.DialNative(context.Background(), voiceclient.NativeOptions{Options: bot.options(w),
		OnPacket: func(ssrc uint32, _ uint16, payload []byte) {
			if bytes.Equal(payload, []byte{0xfc, 0xff, 0xfe}) {
				mu.Lock()
				got[ssrc]++
				mu.Unlock()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := user.dial(t, w)
	sendAll(t, func(int) bool { return true }, c)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = n.Send([]byte("from the bot"))
			}
		}
	}()
	webSSRC := uint32(c.Ready["ssrc"].(float64))
	waitFor(t, "each hears the other", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got[webSSRC] >= 50 && c.Stream(bot.user.ID).Packets >= 50
	})
	if s := c.Stream(bot.user.ID); s.Gaps != 0 || !s.PayloadTypes[111] {
		t.Fatalf("the bot's stream at the WebRTC client: %+v (payload type rewritten to the negotiated Opus one)", s)
	}
}
