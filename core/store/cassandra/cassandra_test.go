package cassandra

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
	"github.com/accord-chat/accord/core/store/storetest"
)

func TestConformance(t *testing.T) {
	testHosts(t)
	start := time.Now()
	storetest.Run(t, func(t *testing.T) store.Store { return openShared(t) })
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
	opts := Options{Hosts: hosts, LocalDC: testDC(), Keyspace: shared.get(t, hosts, testReplication(t)), Logger: quietLogger()}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	// IDs of this test's own in the shared keyspace.
	const uid, ch = 900_001, 900_002
	id := snowflake.FromTime(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	err = s.Commit(t.Context(), &store.Batch{Ops: []store.Op{
		{Kind: store.OpPutUser, User: &model.User{ID: uid, Username: "alice", Discriminator: "0"}},
		{Kind: store.OpPutMessage, Message: &model.Message{ID: id, ChannelID: ch, Content: "kept"}},
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
	if u, err := s.GetUser(t.Context(), uid); err != nil || u.Username != "alice" {
		t.Errorf("GetUser after reopen = %+v, %v", u, err)
	}
	if m, err := s.GetMessage(t.Context(), ch, id); err != nil || m.Content != "kept" {
		t.Errorf("GetMessage after reopen = %+v, %v", m, err)
	}
}

// TestStalePin checks that an unpinned message's pin row goes away once
// ListPins has seen it, and that a message pinned again keeps its pin.
func TestStalePin(t *testing.T) {
	s := openShared(t)
	defer s.Close()
	const ch = 900_500
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

// TestMigrate starts three servers at once on a keyspace that does not
// exist yet, as a region's nodes do on their first start, then checks how
// claims of migrations are held, waited for and taken over.
func TestMigrate(t *testing.T) {
	hosts := testHosts(t)
	ks := newKeyspace(t, hosts, testDC())
	opts := Options{Hosts: hosts, LocalDC: testDC(), Keyspace: ks, Replication: testReplication(t), Logger: quietLogger()}
	ms, _ := loadMigrations()
	states := func(t *testing.T, s *Store) []string {
		t.Helper()
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
		return got
	}
	var s *Store
	t.Cleanup(func() {
		if s != nil {
			s.Close()
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() { errs[i] = Migrate(t.Context(), opts) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("Migrate %d: %v", i, err)
			}
		}
		// And again: nothing to do.
		if err := Migrate(t.Context(), opts); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
		var err error
		if s, err = Open(opts); err != nil {
			t.Fatal(err)
		}
		got := states(t, s)
		if len(got) != len(ms) || !slices.Contains(got, "1:done") {
			t.Fatalf("schema_migrations = %v, want every one of %d migrations done", got, len(ms))
		}
	})
	if s == nil {
		t.FailNow()
	}
	setClaim := func(t *testing.T, owner string, at time.Time) {
		t.Helper()
		err := s.sess.Query(`UPDATE schema_migrations SET state = 'running', owner = ?, claimed_at = ? WHERE version = 1`, owner, at).Exec()
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Run("LiveClaimWaits", func(t *testing.T) {
		// Another process is applying migration 1 and renewed its claim
		// a moment ago: Migrate waits for it rather than run it too.
		setClaim(t, "other/1/live", time.Now())
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		if err := Migrate(ctx, opts); err == nil {
			t.Fatal("Migrate with a live claim held elsewhere returned nil, want it to wait until its context ends")
		}
		var state, owner string
		if err := s.sess.Query(`SELECT state, owner FROM schema_migrations WHERE version = 1`).Scan(&state, &owner); err != nil {
			t.Fatal(err)
		}
		if state != "running" || owner != "other/1/live" {
			t.Errorf("migration 1 after waiting: state %q, owner %q; want the live claim left alone", state, owner)
		}
	})
	t.Run("StaleClaimTakenOver", func(t *testing.T) {
		// The claimant died long ago: Migrate takes the claim over, runs
		// the (idempotent) statements again and marks it done.
		setClaim(t, "other/2/dead", time.Now().Add(-time.Hour))
		if err := Migrate(t.Context(), opts); err != nil {
			t.Fatalf("Migrate with a stale claim: %v", err)
		}
		var state, owner string
		if err := s.sess.Query(`SELECT state, owner FROM schema_migrations WHERE version = 1`).Scan(&state, &owner); err != nil {
			t.Fatal(err)
		}
		if state != "done" || owner == "other/2/dead" {
			t.Errorf("migration 1 after a takeover: state %q, owner %q; want done by this process", state, owner)
		}
	})
}

// TestSchemaCoordinator checks that schema work goes to one node, the
// up node with the lowest host ID, whichever contact point a process has.
func TestSchemaCoordinator(t *testing.T) {
	hosts := testHosts(t)
	ids := map[string]bool{}
	var lowest string
	contacts := [][]string{hosts}
	if peers := findPeers(t); len(peers) > 0 {
		contacts = append(contacts, peers) // another contact point, same choice
	}
	for _, contact := range contacts {
		opts := mustDefaults(t, Options{Hosts: contact, LocalDC: testDC(), Logger: quietLogger()})
		sess, err := openPinned(opts, "")
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		var id gocql.UUID
		if err := sess.Query(`SELECT host_id FROM system.local`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		all = append(all, id.String())
		iter := sess.Query(`SELECT host_id FROM system.peers`).Iter()
		for iter.Scan(&id) {
			all = append(all, id.String())
		}
		if err := iter.Close(); err != nil {
			t.Fatal(err)
		}
		lowest = slices.Min(all)
		for range 10 {
			if err := sess.Query(`SELECT host_id FROM system.local`).Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids[id.String()] = true
		}
		sess.Close()
	}
	if len(ids) != 1 || !ids[lowest] {
		t.Errorf("schema requests went to hosts %v, want only %s (the lowest host ID)", slices.Collect(maps.Keys(ids)), lowest)
	}
}

// findPeers returns the rpc addresses of the other nodes of the cluster.
func findPeers(t *testing.T) []string {
	t.Helper()
	opts := mustDefaults(t, Options{Hosts: testHosts(t), LocalDC: testDC(), Logger: quietLogger()})
	sess, err := newSession(opts, "")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var out []string
	iter := sess.Query(`SELECT rpc_address FROM system.peers`).Iter()
	var addr string
	for iter.Scan(&addr) {
		out = append(out, addr)
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTransientSchemaErr(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"client timeout", fmt.Errorf("create keyspace: %w", gocql.ErrTimeoutNoResponse), true},
		{"no connections", gocql.ErrNoConnections, true},
		{"unknown CF", serverErr(gocql.ErrCodeServer, "java.lang.IllegalArgumentException: Unknown CF 21dd18b0-eee7-11f1-bfd0-5dbeb7c0895f"), true},
		{"table not visible yet", serverErr(gocql.ErrCodeInvalid, "table schema_migrations does not exist"), true},
		{"unconfigured table", serverErr(gocql.ErrCodeInvalid, "unconfigured table schema_migrations"), true},
		{"overloaded", serverErr(gocql.ErrCodeOverloaded, "overloaded"), true},
		{"unavailable", serverErr(gocql.ErrCodeUnavailable, "Cannot achieve consistency level"), true},
		{"disagreement", &disagreementError{versions: map[string][]string{"a": {"x"}, "b": {"y"}}}, true},
		{"syntax", serverErr(gocql.ErrCodeSyntax, "line 1:0 no viable alternative"), false},
		{"other invalid", serverErr(gocql.ErrCodeInvalid, "Unknown property 'x'"), false},
		{"context ended", fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{"plain error", errors.New("boom"), false},
	}
	for _, c := range cases {
		if got := transientSchemaErr(c.err); got != c.want {
			t.Errorf("%s: transientSchemaErr(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

// serverErr is an error as gocql reports a server's error frame.
type serverError struct {
	code int
	msg  string
}

func serverErr(code int, msg string) error { return serverError{code, msg} }

func (e serverError) Code() int       { return e.code }
func (e serverError) Message() string { return e.msg }
func (e serverError) Error() string   { return e.msg }

func TestDisagreementErrorNamesNodes(t *testing.T) {
	err := &disagreementError{versions: map[string][]string{
		"6a1b": {"127.0.0.1 (dc1)"},
		"9c2d": {"127.0.0.2 (dc2)", "127.0.0.3 (dc2)"},
	}}
	want := "nodes disagree on the schema (schema changes need every node of every datacenter up): " +
		"127.0.0.1 (dc1) at 6a1b; 127.0.0.2 (dc2), 127.0.0.3 (dc2) at 9c2d"
	if err.Error() != want {
		t.Errorf("message:\n got %s\nwant %s", err.Error(), want)
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
