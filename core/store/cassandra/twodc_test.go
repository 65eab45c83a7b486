package cassandra

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
)

// These tests need a second datacenter. They find it in system.peers of the
// local one, or in ACCORD_CASSANDRA_DC2 and ACCORD_CASSANDRA_DC2_HOSTS, and
// skip when there is none (a one-node cluster). They live in this file,
// after the others, because the last one stops a node.

type remoteDC struct {
	name  string
	hosts []string
}

func findRemoteDC(t *testing.T) remoteDC {
	t.Helper()
	hosts := testHosts(t)
	if dc, h := os.Getenv("ACCORD_CASSANDRA_DC2"), os.Getenv("ACCORD_CASSANDRA_DC2_HOSTS"); dc != "" && h != "" {
		return remoteDC{dc, strings.Split(h, ",")}
	}
	opts := mustDefaults(t, Options{Hosts: hosts, LocalDC: testDC(), Logger: quietLogger()})
	sess, err := newSession(opts, "")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	iter := sess.Query(`SELECT data_center, rpc_address FROM system.peers`).Iter()
	var dc, addr string
	var found remoteDC
	for iter.Scan(&dc, &addr) {
		if dc != testDC() && (found.name == "" || found.name == dc) {
			found.name = dc
			found.hosts = append(found.hosts, addr)
		}
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	if found.name == "" {
		t.Skip("the cluster has no datacenter besides " + testDC() + ": start it with cassandra.sh start --two-dc")
	}
	return found
}

func openIn(t *testing.T, hosts []string, dc, ks, consistency string, repl map[string]int) *Store {
	t.Helper()
	s, err := Open(Options{Hosts: hosts, LocalDC: dc, Keyspace: ks, Replication: repl, Consistency: consistency, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("open in %s: %v", dc, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// messagesAt returns n messages of channel ch, one a minute from at.
func messagesAt(ch store.ID, at time.Time, n int, content string) []*model.Message {
	var out []*model.Message
	for i := range n {
		id := snowflake.FromTime(at.Add(time.Duration(i) * time.Minute))
		out = append(out, &model.Message{ID: id, ChannelID: ch, AuthorID: 7, Content: fmt.Sprintf("%s %d", content, i), Timestamp: id.Time()})
	}
	return out
}

func commitMessages(t *testing.T, s *Store, ms []*model.Message) {
	t.Helper()
	for len(ms) > 0 {
		n := min(len(ms), 50)
		var b store.Batch
		for _, m := range ms[:n] {
			b.Add(store.Op{Kind: store.OpPutMessage, Message: m})
		}
		if err := s.Commit(t.Context(), &b); err != nil {
			t.Fatalf("commit: %v", err)
		}
		ms = ms[n:]
	}
}

// eventually polls check until it returns nil or the deadline passes.
func eventually(t *testing.T, what string, within time.Duration, check func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := check()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s: not within %s: %v", what, within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sameHistory checks that s has exactly want (newest first) in ch.
func sameHistory(ctx context.Context, s *Store, ch store.ID, want []*model.Message) error {
	got, err := s.ListMessages(ctx, ch, store.MessageQuery{Limit: 100})
	if err != nil {
		return err
	}
	wantIDs := make([]store.ID, 0, len(want))
	for i := len(want) - 1; i >= 0 && len(wantIDs) < 100; i-- {
		wantIDs = append(wantIDs, want[i].ID)
	}
	gotIDs := make([]store.ID, len(got))
	for i, m := range got {
		gotIDs[i] = m.ID
	}
	if !slices.Equal(gotIDs, wantIDs) {
		return fmt.Errorf("%d messages, want %d", len(gotIDs), len(wantIDs))
	}
	return nil
}

func TestTwoDCReplication(t *testing.T) {
	remote := findRemoteDC(t)
	hosts := testHosts(t)
	ks := twoDC.get(t, hosts, map[string]int{testDC(): 1, remote.name: 1})
	s1 := openIn(t, hosts, testDC(), ks, "", nil)
	s2 := openIn(t, remote.hosts, remote.name, ks, "", nil)

	const ch = 1001
	ms := messagesAt(ch, time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), 120, "from dc1")
	ms[100].Pinned = true
	commitMessages(t, s1, ms)
	guild := &model.Guild{ID: 2000, Name: "replicated", OwnerID: 7}
	err := s1.Commit(t.Context(), &store.Batch{Ops: []store.Op{
		{Kind: store.OpPutGuild, Guild: guild},
		{Kind: store.OpPutChannel, Channel: &model.Channel{ID: ch, GuildID: guild.ID, Name: "general"}},
		{Kind: store.OpPutReaction, ChannelID: ch, ID: ms[5].ID, Emoji: "👍", UserID: 9},
	}})
	if err != nil {
		t.Fatal(err)
	}

	lag := eventually(t, "messages written in "+testDC()+" readable in "+remote.name, 30*time.Second, func() error {
		return sameHistory(t.Context(), s2, ch, ms)
	})
	t.Logf("%d messages written through %s at LOCAL_QUORUM were all readable through %s after %s", len(ms), testDC(), remote.name, lag)
	eventually(t, "guild, pin and reaction in "+remote.name, 30*time.Second, func() error {
		var n int
		err := s2.ForEachGuild(t.Context(), func(g *store.GuildSnapshot) error {
			if g.Guild.Name == "replicated" && len(g.Channels) == 1 {
				n++
			}
			return nil
		})
		if err != nil || n != 1 {
			return fmt.Errorf("guild not there yet (%v)", err)
		}
		if pins, err := s2.ListPins(t.Context(), ch); err != nil || len(pins) != 1 {
			return fmt.Errorf("pins = %d, %v", len(pins), err)
		}
		if ok, err := s2.HasReaction(t.Context(), ch, ms[5].ID, "👍", 9); !ok {
			return fmt.Errorf("reaction not there yet (%v)", err)
		}
		return nil
	})

	// An attachment's bytes, chunked, reach the other datacenter too: a
	// region's nodes there serve the file.
	file := bytes.Repeat([]byte("accord file "), 3*store.FileChunk/12+5)
	if _, err := s1.PutFile(t.Context(), ch, 3000, bytes.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a file written in "+testDC()+" readable in "+remote.name, 30*time.Second, func() error {
		size, err := s2.FileSize(t.Context(), ch, 3000)
		if err != nil || size != int64(len(file)) {
			return fmt.Errorf("size %d, %v", size, err)
		}
		got := make([]byte, size)
		if n, err := s2.ReadFileAt(t.Context(), ch, 3000, got, 0); n != len(got) || err != nil || !bytes.Equal(got, file) {
			return fmt.Errorf("read %d of %d bytes (%v)", n, len(got), err)
		}
		return nil
	})

	// And back: DC2 writes, DC1 reads.
	back := messagesAt(ch+1, time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), 30, "from dc2")
	commitMessages(t, s2, back)
	eventually(t, "messages written in "+remote.name+" readable in "+testDC(), 30*time.Second, func() error {
		return sameHistory(t.Context(), s1, ch+1, back)
	})
}

// cassandraScript is deploy/cassandra/cassandra.sh, from this package's
// directory.
func cassandraScript(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../../deploy/cassandra/cassandra.sh")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func runScript(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, cassandraScript(t), args...).CombinedOutput()
	return string(out), err
}

// TestTwoDCNodeDown stops the other datacenter's node (through
// cassandra.sh, so only on a cluster that script runs), shows that this
// datacenter keeps taking writes at LOCAL_QUORUM while QUORUM fails, and
// restarts the node, which then catches up through hints.
func TestTwoDCNodeDown(t *testing.T) {
	remote := findRemoteDC(t)
	hosts := testHosts(t)
	if out, _ := runScript(t, "status"); !strings.Contains(out, "node "+remote.name+" ") || !strings.Contains(out, "CQL open") {
		t.Skipf("node %s is not run by cassandra.sh (status: %q), so it cannot be stopped", remote.name, out)
	}
	// The keyspace is made (if TestTwoDCReplication has not) while both
	// nodes are up. Schema changes of other test processes made while the
	// node is down wait for it (schema.go).
	ks := twoDC.get(t, hosts, map[string]int{testDC(): 1, remote.name: 1})
	s1 := openIn(t, hosts, testDC(), ks, "", nil)
	quorum := openIn(t, hosts, testDC(), ks, "QUORUM", nil)
	const ch = 3001
	before := messagesAt(ch, time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC), 20, "before")
	commitMessages(t, s1, before)

	start := time.Now()
	if out, err := runScript(t, "stop-node", remote.name); err != nil {
		t.Fatalf("stop-node %s: %v\n%s", remote.name, err, out)
	}
	stopped := true
	t.Cleanup(func() { // put the node back even when the test fails
		if stopped {
			if out, err := runScript(t, "start-node", remote.name); err != nil {
				t.Errorf("start-node %s: %v\n%s", remote.name, err, out)
			}
		}
	})
	t.Logf("stopped node %s in %s", remote.name, time.Since(start).Round(time.Millisecond))

	// LOCAL_QUORUM in dc1 needs only dc1's replica.
	during := messagesAt(ch, time.Date(2025, 5, 2, 0, 0, 0, 0, time.UTC), 60, "during")
	start = time.Now()
	commitMessages(t, s1, during)
	guild := &model.Guild{ID: 4000, Name: "while down"}
	err := s1.Commit(t.Context(), &store.Batch{Ops: []store.Op{ // a logged batch over several partitions
		{Kind: store.OpPutGuild, Guild: guild},
		{Kind: store.OpPutChannel, Channel: &model.Channel{ID: ch, GuildID: guild.ID, Name: "c"}},
		{Kind: store.OpPutMember, Member: &model.Member{GuildID: guild.ID, UserID: 7}},
	}})
	if err != nil {
		t.Fatalf("logged batch at LOCAL_QUORUM with %s down: %v", remote.name, err)
	}
	t.Logf("%d messages and a guild committed at LOCAL_QUORUM with %s down in %s", len(during), remote.name, time.Since(start).Round(time.Millisecond))
	all := append(slices.Clone(before), during...)
	if err := sameHistory(t.Context(), s1, ch, all); err != nil {
		t.Fatalf("reading back in %s with %s down: %v", testDC(), remote.name, err)
	}

	// A schema change now cannot reach agreement: it fails, saying which
	// node is behind, once its context ends.
	func() {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		ks2 := newKeyspace(t, hosts, testDC())
		err := Migrate(ctx, Options{Hosts: hosts, LocalDC: testDC(), Keyspace: ks2, Replication: map[string]int{testDC(): 1}, Logger: quietLogger()})
		if err == nil || !strings.Contains(err.Error(), "disagree") || !strings.Contains(err.Error(), remote.hosts[0]) {
			t.Errorf("Migrate with %s down = %v, want an error naming %s as not agreeing", remote.name, err, remote.hosts[0])
		} else {
			t.Logf("Migrate with %s down: %v", remote.name, err)
		}
	}()

	// QUORUM of two replicas needs both; it must fail, once the
	// coordinator knows the node is down.
	eventually(t, "a QUORUM write failing with "+remote.name+" down", 30*time.Second, func() error {
		m := messagesAt(ch+1, time.Now(), 1, "quorum")[0]
		err := quorum.Commit(t.Context(), &store.Batch{Ops: []store.Op{{Kind: store.OpPutMessage, Message: m}}})
		var unavailable *gocql.RequestErrUnavailable
		if errors.As(err, &unavailable) {
			t.Logf("QUORUM write with %s down: %v", remote.name, err)
			return nil
		}
		return fmt.Errorf("QUORUM write: %v", err)
	})

	start = time.Now()
	if out, err := runScript(t, "start-node", remote.name); err != nil {
		t.Fatalf("start-node %s: %v\n%s", remote.name, err, out)
	}
	stopped = false
	t.Logf("restarted node %s in %s", remote.name, time.Since(start).Round(time.Millisecond))

	// The writes it missed reach it as hints from dc1.
	s2 := openIn(t, remote.hosts, remote.name, ks, "", nil)
	lag := eventually(t, "writes made while "+remote.name+" was down reaching it", 2*time.Minute, func() error {
		return sameHistory(t.Context(), s2, ch, all)
	})
	t.Logf("%s had every write made while it was down %s after its restart", remote.name, lag.Round(time.Millisecond))
}
