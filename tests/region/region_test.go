package region_test

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// world is a guild on a region: three users, each with a gateway client
// on every node, and the guild's text channel.
type world struct {
	users   []user
	guild   string
	channel string
	clients map[int][]*gwClient // node → its clients
}

func setup(t *testing.T, r *region) *world {
	t.Helper()
	w := &world{clients: map[int][]*gwClient{}}
	for i := 1; i <= 3; i++ {
		// Each registers through another node: accounts live in one
		// shard, so most of these are forwarded to its leader.
		w.users = append(w.users, register(t, r.url(i), fmt.Sprintf("user%d", i)))
	}
	// Every node creates a guild at the first try: a node picks an ID in a
	// shard it leads (no 503 for the client to retry).
	for n := 1; n <= r.nodes; n++ {
		status, g, err := api(r.url(n), "POST", "/guilds", w.users[0].token, map[string]any{"name": fmt.Sprintf("region %d", n)})
		if err != nil || status != 201 {
			t.Fatalf("create guild on node %d: %d %v %v", n, status, g, err)
		}
		if n == 2 {
			w.guild = g["id"].(string)
		}
	}
	chans := mustAPI(t, r.url(3), "GET", "/guilds/"+w.guild+"/channels", w.users[0].token, nil, 200)
	_ = chans
	// The channel list is an array; read it through the raw helper.
	w.channel = firstTextChannel(t, r.url(1), w.users[0].token, w.guild)
	inv := mustAPI(t, r.url(1), "POST", "/channels/"+w.channel+"/invites", w.users[0].token, map[string]any{}, 200)
	for i, u := range w.users[1:] {
		mustAPI(t, r.url(i+2), "POST", "/invites/"+inv["code"].(string), u.token, nil, 200)
	}
	for n := 1; n <= r.nodes; n++ {
		for ui, u := range w.users {
			w.clients[n] = append(w.clients[n], connect(t, r.url(n), fmt.Sprintf("user%d@node%d", ui+1, n), u))
		}
	}
	return w
}

func TestRegionLeaderKilledMidStream(t *testing.T) {
	r := startRegion(t, 3)
	w := setup(t, r)
	gid, _ := strconv.ParseUint(w.guild, 10, 64)

	leader := r.leaderOf(gid)
	t.Logf("guild %s: shard leader is node %d", w.guild, leader)
	live := newLiveSet(r, 1, 2, 3)
	s, stop, wg := startSenders(w, live.urls)
	before := s.waitAcked(t, 100, "before the kill")
	live.set(leader, false)
	r.kill(leader)
	t.Logf("killed node %d after %d acknowledged messages", leader, before)
	s.waitAcked(t, before+100, "after the leader died")
	close(stop)
	wg.Wait()
	acked := s.snapshot()
	if len(acked) <= before+10 {
		t.Fatalf("only %d messages acknowledged after the leader died (%d before)", len(acked)-before, before)
	}

	// Every client on a surviving node has every acknowledged message,
	// once, and all of them saw one order.
	var ref []string
	var refName string
	for n := 1; n <= 3; n++ {
		if n == leader {
			continue
		}
		for _, c := range w.clients[n] {
			c.waitAll(acked, time.Minute)
			c.checkExactlyOnce(acked)
			got := c.messages()
			if ref == nil {
				ref, refName = got, c.name
				continue
			}
			// Let the slower one catch up to the same length.
			deadline := time.Now().Add(10 * time.Second)
			for len(got) < len(ref) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				got = c.messages()
			}
			if len(got) != len(ref) {
				t.Fatalf("%s has %d messages, %s has %d", c.name, len(got), refName, len(ref))
			}
			for k := range ref {
				if got[k] != ref[k] {
					t.Fatalf("%s and %s differ at %d: %s vs %s", c.name, refName, k, got[k], ref[k])
				}
			}
		}
	}
	t.Logf("%d acknowledged, %d delivered to each of %d surviving clients in one order", len(acked), len(ref), 6)

	// The killed node restarts and catches up from its log: its state
	// knows the last message, and it serves new ones.
	r.start(3)
	c := connect(t, r.url(leader), "user1@restarted", w.users[0])
	last := ref[len(ref)-1]
	if got := channelLastMessage(c.guildCreate(w.guild), w.channel); got != last {
		t.Fatalf("restarted node's GUILD_CREATE has last_message_id %s, want %s", got, last)
	}
	out := mustAPI(t, r.url(leader), "POST", "/channels/"+w.channel+"/messages", w.users[1].token, map[string]any{"content": "after restart"}, 200)
	one := map[string]bool{out["id"].(string): true}
	c.waitAll(one, time.Minute)
	for n := 1; n <= 3; n++ {
		if n == leader {
			continue
		}
		for _, cl := range w.clients[n] {
			cl.waitAll(one, time.Minute)
		}
	}
}

func TestRegionMembershipChangesUnderTraffic(t *testing.T) {
	r := startRegion(t, 3)
	w := setup(t, r)
	live := newLiveSet(r, 1, 2, 3)
	s, stop, wg := startSenders(w, live.urls)
	s.waitAcked(t, 50, "before node 4 joined")

	// A fourth node joins while messages flow, and takes traffic.
	r.start(4)
	c4 := connect(t, r.url(4), "user1@node4", w.users[0])
	c4At := time.Now()
	live.set(4, true)
	joinedAt := len(s.snapshot())
	s.waitAcked(t, joinedAt+50, "after node 4 joined")

	// Node 2 leaves the region (through the admin command of node 1),
	// then stops; messages keep flowing.
	out, err := runAccord(t, "region", "remove", "--via", r.raftAddr(1), "--id", "node-2",
		"--tls-ca", r.dir+"/tls/ca.pem", "--tls-cert", r.dir+"/tls/node-1.pem", "--tls-key", r.dir+"/tls/node-1-key.pem")
	if err != nil {
		t.Fatalf("region remove: %v\n%s", err, out)
	}
	live.set(2, false)
	r.kill(2)
	s.waitAcked(t, len(s.snapshot())+50, "after node 2 left")
	close(stop)
	wg.Wait()
	acked := s.snapshot()
	t.Logf("%d acknowledged (%d before node 4 joined)", len(acked), joinedAt)

	members, err := runAccord(t, "region", "members", "--via", r.raftAddr(4),
		"--tls-ca", r.dir+"/tls/ca.pem", "--tls-cert", r.dir+"/tls/node-4.pem", "--tls-key", r.dir+"/tls/node-4-key.pem")
	if err != nil {
		t.Fatalf("region members: %v\n%s", err, members)
	}
	if !containsAll(string(members), "node-1@", "node-3@", "node-4@") || contains(string(members), "node-2@") {
		t.Fatalf("membership after the change:\n%s", members)
	}
	for _, n := range []int{1, 3} {
		for _, c := range w.clients[n] {
			c.waitAll(acked, time.Minute)
			c.checkExactlyOnce(acked)
		}
	}
	// Node 4 joined mid-stream: it has everything sent after its client
	// connected, once. (Not everything acknowledged after: a message sent
	// just before may be answered just after.)
	after := map[string]bool{}
	s.mu.Lock()
	for id, at := range s.sentAt {
		if at.After(c4At) {
			after[id] = true
		}
	}
	s.mu.Unlock()
	c4.waitAll(after, time.Minute)
	c4.checkExactlyOnce(after)
}

// TestRegionResumeOnAnotherNode: the node holding a gateway session dies;
// the client RESUMEs on another node with its session ID and sequence and
// gets exactly the events it missed, in order.
func TestRegionResumeOnAnotherNode(t *testing.T) {
	r := startRegion(t, 3)
	w := setup(t, r)
	// The watcher is user 2's client on node 1; node 1 will die.
	watcher := w.clients[1][1]
	ref := w.clients[2][0] // a client on a surviving node, for the full stream
	before := map[string]bool{}
	for i := 0; i < 20; i++ {
		out := mustAPI(t, r.url(2), "POST", "/channels/"+w.channel+"/messages", w.users[0].token, map[string]any{"content": fmt.Sprintf("before %d", i)}, 200)
		before[out["id"].(string)] = true
	}
	watcher.waitAll(before, time.Minute)
	// Everything node 1 sent the watcher is in its replicated resume state.
	r.waitMetric(1, "accord_gateway_resume_state_pending", 0)
	watcher.mu.Lock()
	sessionID, seqAtKill := watcher.sessionID, watcher.seq
	seen := len(watcher.msgs)
	watcher.mu.Unlock()
	if seen != 20 {
		t.Fatalf("watcher saw %d of 20 messages before the kill", seen)
	}
	r.kill(1)
	<-watcher.closed

	// Messages the watcher misses while it has no connection.
	missed := map[string]bool{}
	var missedOrder []string
	for i := 0; i < 15; i++ {
		out := mustAPI(t, r.url(3), "POST", "/channels/"+w.channel+"/messages", w.users[2].token, map[string]any{"content": fmt.Sprintf("missed %d", i)}, 200)
		missed[out["id"].(string)] = true
		missedOrder = append(missedOrder, out["id"].(string))
	}

	// RESUME on node 2.
	ws, err := dialGateway(t, r.url(2), "resumer")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	c := &gwClient{t: t, name: "user2@node2 (resumed)", ws: ws, ready: make(chan struct{}), closed: make(chan struct{}), seq: seqAtKill, sessionID: sessionID}
	c.send(map[string]any{"op": 6, "d": map[string]any{"token": w.users[1].token, "session_id": sessionID, "seq": seqAtKill}})
	go c.read()
	select {
	case <-c.ready:
	case <-c.closed:
		t.Fatal("connection closed instead of RESUMED")
	case <-time.After(time.Minute):
		t.Fatal("no RESUMED")
	}
	c.waitAll(missed, time.Minute)
	// Exactly the missed ones: nothing from before the kill again.
	got := c.messages()
	if len(got) != len(missedOrder) {
		t.Fatalf("resume replayed %d messages, want the %d missed: %v", len(got), len(missedOrder), got)
	}
	for i := range got {
		if got[i] != missedOrder[i] {
			t.Fatalf("replay differs at %d: %s, want %s", i, got[i], missedOrder[i])
		}
	}
	// Sequence numbers continue from the client's.
	c.mu.Lock()
	first := c.seqs[0]
	c.mu.Unlock()
	if first != seqAtKill+1 {
		t.Fatalf("first replayed seq %d, want %d", first, seqAtKill+1)
	}
	// And the session lives on here: new events arrive.
	out := mustAPI(t, r.url(3), "POST", "/channels/"+w.channel+"/messages", w.users[0].token, map[string]any{"content": "live after resume"}, 200)
	c.waitAll(map[string]bool{out["id"].(string): true}, time.Minute)
	ref.waitAll(missed, time.Minute)
}

// liveSet is the nodes the senders may use.
type liveSet struct {
	r  *region
	mu sync.Mutex
	on map[int]bool
}

func newLiveSet(r *region, nodes ...int) *liveSet {
	l := &liveSet{r: r, on: map[int]bool{}}
	for _, n := range nodes {
		l.on[n] = true
	}
	return l
}

func (l *liveSet) set(node int, on bool) {
	l.mu.Lock()
	l.on[node] = on
	l.mu.Unlock()
}

func (l *liveSet) urls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for i := 1; i <= 9; i++ {
		if l.on[i] {
			out = append(out, l.r.url(i))
		}
	}
	return out
}

// startSenders has every user post to the channel through the live
// nodes until stop is closed.
func startSenders(w *world, nodes func() []string) (*sender, chan struct{}, *sync.WaitGroup) {
	s := &sender{acked: map[string]bool{}}
	stop := make(chan struct{})
	wg := &sync.WaitGroup{}
	for i, u := range w.users {
		wg.Add(1)
		go s.run(stop, wg, nodes, u, w.channel, fmt.Sprintf("u%d", i))
	}
	return s, stop, wg
}

// TestRegionTokenResetClosesSessionsEverywhere: resetting a bot's token
// on one node closes the bot's gateway sessions on every node with 4004,
// and the old token no longer works anywhere.
func TestRegionTokenResetClosesSessionsEverywhere(t *testing.T) {
	r := startRegion(t, 3)
	w := setup(t, r)
	owner := w.users[0]
	app := mustAPI(t, r.url(1), "POST", "/applications", owner.token, map[string]any{"name": "Region Bot"}, 201)
	bot := user{id: app["id"].(string), token: "Bot " + app["token"].(string)}
	// On the node that created it: another node may not have applied the
	// application yet (a client reads its own writes where it wrote).
	mustAPI(t, r.url(1), "POST", "/oauth2/authorize?client_id="+bot.id+"&scope=bot", owner.token,
		map[string]any{"guild_id": w.guild, "authorize": true}, 200)
	var sessions []*gwClient
	for n := 1; n <= r.nodes; n++ {
		// Each node knows the bot, and its membership, once it applied
		// them: until then it would refuse the identify.
		deadline := time.Now().Add(time.Minute)
		for {
			status, _, err := api(r.url(n), "GET", "/guilds/"+w.guild+"/members/"+bot.id, owner.token, nil)
			if err == nil && status == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d never applied the bot's membership: %d %v", n, status, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		sessions = append(sessions, connectWith(t, r.url(n), fmt.Sprintf("bot@node%d", n), bot, 1|1<<9))
	}
	mustAPI(t, r.url(2), "POST", "/applications/"+bot.id+"/bot/reset", owner.token, nil, 200)
	wantRevokedEverywhere(t, r, sessions, bot.token)

	// A password change does the same for every token of a user.
	member := w.users[1]
	sessions = sessions[:0]
	for n := 1; n <= r.nodes; n++ {
		sessions = append(sessions, connectWith(t, r.url(n), fmt.Sprintf("member@node%d", n), member, 1|1<<9))
	}
	out := mustAPI(t, r.url(3), "PATCH", "/users/@me", member.token,
		map[string]any{"password": "correct horse battery", "new_password": "another horse battery"}, 200)
	wantRevokedEverywhere(t, r, sessions, member.token)
	mustAPI(t, r.url(3), "GET", "/users/@me", out["token"].(string), nil, 200)
}

// wantRevokedEverywhere waits for every session to be closed with 4004
// and checks that no node takes the revoked token any more.
func wantRevokedEverywhere(t *testing.T, r *region, sessions []*gwClient, token string) {
	t.Helper()
	for _, c := range sessions {
		select {
		case <-c.closed:
		case <-time.After(time.Minute):
			t.Fatalf("%s: still open a minute after its token was revoked", c.name)
		}
		var ce *websocket.CloseError
		if !errors.As(c.err, &ce) || ce.Code != 4004 {
			t.Fatalf("%s: ended with %v, want close 4004", c.name, c.err)
		}
	}
	for n := 1; n <= r.nodes; n++ {
		if status, out, err := api(r.url(n), "GET", "/users/@me", token, nil); err != nil || status != 401 {
			t.Fatalf("node %d: the revoked token answered %d %v %v, want 401", n, status, out, err)
		}
	}
}
