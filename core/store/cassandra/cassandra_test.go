package cassandra

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
	"github.com/accord-chat/accord/core/store/storetest"
)

func TestConformance(t *testing.T) {
	testHosts(t)
	start := time.Now()
	storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
	t.Logf("conformance suite took %s", time.Since(start).Round(time.Millisecond))
}

func TestOpenNeedsReplicationForNewKeyspace(t *testing.T) {
	hosts := testHosts(t)
	_, err := Open(Options{Hosts: hosts, LocalDC: testDC(), Keyspace: "accord_test_never_created", Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), "Replication") {
		t.Errorf("Open of a missing keyspace without Replication: err = %v, want one about Replication", err)
	}
}

func TestReopen(t *testing.T) {
	hosts := testHosts(t)
	opts := Options{Hosts: hosts, LocalDC: testDC(), Keyspace: pool.get(t, hosts), Logger: quietLogger()}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	id := snowflake.FromTime(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	err = s.Commit(t.Context(), &store.Batch{Ops: []store.Op{
		{Kind: store.OpPutUser, User: &model.User{ID: 1, Username: "alice", Discriminator: "0"}},
		{Kind: store.OpPutMessage, Message: &model.Message{ID: id, ChannelID: 11, Content: "kept"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if u, err := s.GetUser(t.Context(), 1); err != nil || u.Username != "alice" {
		t.Errorf("GetUser after reopen = %+v, %v", u, err)
	}
	if m, err := s.GetMessage(t.Context(), 11, id); err != nil || m.Content != "kept" {
		t.Errorf("GetMessage after reopen = %+v, %v", m, err)
	}
}

// TestStalePin checks that an unpinned message's pin row goes away once
// ListPins has seen it, and that a message pinned again keeps its pin.
func TestStalePin(t *testing.T) {
	s := openFresh(t)
	defer s.Close()
	const ch = 500
	id := snowflake.FromTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	put := func(pinned bool) {
		t.Helper()
		m := &model.Message{ID: id, ChannelID: ch, Content: "p", Pinned: pinned}
		if err := s.Commit(t.Context(), &store.Batch{Ops: []store.Op{{Kind: store.OpPutMessage, Message: m}}}); err != nil {
			t.Fatal(err)
		}
	}
	pinRows := func() int {
		t.Helper()
		var n int
		if err := s.sess.Query(`SELECT COUNT(*) FROM pins WHERE channel_id = ?`, sid(ch)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	put(true)
	put(false)
	if n := pinRows(); n != 1 {
		t.Fatalf("pin rows after unpin = %d, want 1 (unpinning writes nothing to pins)", n)
	}
	if pins, err := s.ListPins(t.Context(), ch); err != nil || len(pins) != 0 {
		t.Fatalf("ListPins after unpin = %d messages, %v", len(pins), err)
	}
	if n := pinRows(); n != 0 {
		t.Errorf("pin rows after ListPins = %d, want the stale one dropped", n)
	}
	put(true)
	if pins, err := s.ListPins(t.Context(), ch); err != nil || len(pins) != 1 {
		t.Errorf("ListPins after pinning again = %d messages, %v; want 1", len(pins), err)
	}
}

func TestMigrateConcurrent(t *testing.T) {
	hosts := testHosts(t)
	// Alone: the pool's schema changes would slow this one's to a crawl
	// on a small machine. The tests before it have had their keyspaces.
	pool.close()
	ks := newKeyspace(t, hosts, testDC())
	opts := Options{Hosts: hosts, LocalDC: testDC(), Keyspace: ks, Replication: testReplication(t), Logger: quietLogger()}
	// The keyspace first, as an operator would; then three servers start
	// at once and race for the migrations.
	if err := ensureKeyspace(t.Context(), mustDefaults(t, opts)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = Migrate(t.Context(), opts) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	// And again: nothing to do.
	if err := Migrate(t.Context(), opts); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	iter := s.sess.Query(`SELECT version, state FROM schema_migrations`).Iter()
	var v int
	var state string
	var got []string
	for iter.Scan(&v, &state) {
		got = append(got, fmt.Sprintf("%d:%s", v, state))
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	ms, _ := loadMigrations()
	if len(got) != len(ms) || !slices.Contains(got, "1:done") {
		t.Errorf("schema_migrations = %v, want every one of %d migrations done", got, len(ms))
	}
}

// The rest needs no cluster.

func TestSIDOrder(t *testing.T) {
	ids := []store.ID{0, 1, 1 << 40, 1<<63 - 1, 1 << 63, 1<<63 + 1, math.MaxUint64 - 1, math.MaxUint64}
	for i := 1; i < len(ids); i++ {
		if sid(ids[i-1]) >= sid(ids[i]) {
			t.Errorf("sid(%d) = %d is not below sid(%d) = %d", ids[i-1], sid(ids[i-1]), ids[i], sid(ids[i]))
		}
		if fromSID(sid(ids[i])) != ids[i] {
			t.Errorf("fromSID(sid(%d)) = %d", ids[i], fromSID(sid(ids[i])))
		}
	}
	if b := bucketOf(math.MaxUint64); b <= 0 || int64(b) != model.Bucket(math.MaxUint64) {
		t.Errorf("bucketOf(max) = %d, want %d", b, model.Bucket(math.MaxUint64))
	}
}

func TestMigrationsParse(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].version != 1 {
		t.Fatalf("migrations = %+v, want 0001 first", ms)
	}
	for _, m := range ms {
		for _, st := range m.statements {
			if strings.Contains(st, ";") || strings.Contains(st, "--") {
				t.Errorf("%s: statement not split cleanly: %q", m.name, st)
			}
			if !strings.HasPrefix(st, "CREATE TABLE IF NOT EXISTS") {
				t.Errorf("%s: %q is not an idempotent CREATE TABLE", m.name, st)
			}
		}
	}
	if got := splitCQL("-- c\nA 1;\n\nB\n 2;\n"); !slices.Equal(got, []string{"A 1", "B\n 2"}) {
		t.Errorf("splitCQL = %q", got)
	}
}

func TestOptions(t *testing.T) {
	bad := []Options{
		{LocalDC: "dc1"},
		{Hosts: []string{"h"}},
		{Hosts: []string{"h"}, LocalDC: "dc1", Keyspace: "x; DROP"},
		{Hosts: []string{"h"}, LocalDC: "dc1", Replication: map[string]int{"dc'1": 1}},
		{Hosts: []string{"h"}, LocalDC: "dc1", Consistency: "MOST"},
	}
	for _, o := range bad {
		if _, err := o.withDefaults(); err == nil {
			t.Errorf("withDefaults(%+v) succeeded", o)
		}
	}
	if got := replicationCQL(map[string]int{"dc2": 1, "dc1": 3}); got != "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 1}" {
		t.Errorf("replicationCQL = %s", got)
	}
}

func TestClock(t *testing.T) {
	var c clock
	last := int64(0)
	for range 1000 {
		base := c.reserve(3)
		if base <= last {
			t.Fatalf("reserve returned %d after %d", base, last)
		}
		last = base + 2
	}
}
