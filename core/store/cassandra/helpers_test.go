package cassandra

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The tests that need a cluster read:
//
//	ACCORD_CASSANDRA_HOSTS        contact points of the local DC, comma-separated
//	ACCORD_CASSANDRA_DC           its datacenter (default dc1)
//	ACCORD_CASSANDRA_REPLICATION  keyspace replication, "dc1:1,dc2:1" (default: local DC, 1)
//	ACCORD_REQUIRE_CASSANDRA=1    fail, rather than skip, when no hosts are given
//	ACCORD_CASSANDRA_TEST_LOG=1   show the driver's log
//
// deploy/cassandra/cassandra.sh start --two-dc runs a suitable cluster.

func TestMain(m *testing.M) {
	code := m.Run()
	shared.drop()
	twoDC.drop()
	if bench.cleanup != nil {
		bench.cleanup()
	}
	os.Exit(code)
}

// quietLogger discards the driver's messages unless
// ACCORD_CASSANDRA_TEST_LOG is set.
func quietLogger() *slog.Logger {
	if os.Getenv("ACCORD_CASSANDRA_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func testHosts(tb testing.TB) []string {
	tb.Helper()
	hosts := os.Getenv("ACCORD_CASSANDRA_HOSTS")
	if hosts == "" {
		const how = "start a cluster with deploy/cassandra/cassandra.sh start --two-dc and set ACCORD_CASSANDRA_HOSTS=127.0.0.1 ACCORD_CASSANDRA_DC=dc1"
		if os.Getenv("ACCORD_REQUIRE_CASSANDRA") == "1" {
			tb.Fatal("ACCORD_REQUIRE_CASSANDRA=1 but ACCORD_CASSANDRA_HOSTS is empty: " + how)
		}
		tb.Skip("ACCORD_CASSANDRA_HOSTS is empty, so the Cassandra tests are skipped: " + how)
	}
	return strings.Split(hosts, ",")
}

func testDC() string {
	if dc := os.Getenv("ACCORD_CASSANDRA_DC"); dc != "" {
		return dc
	}
	return "dc1"
}

func testReplication(tb testing.TB) map[string]int {
	tb.Helper()
	spec := os.Getenv("ACCORD_CASSANDRA_REPLICATION")
	if spec == "" {
		return map[string]int{testDC(): 1}
	}
	r := map[string]int{}
	for _, part := range strings.Split(spec, ",") {
		dc, n, ok := strings.Cut(part, ":")
		rf, err := strconv.Atoi(n)
		if !ok || err != nil {
			tb.Fatalf("ACCORD_CASSANDRA_REPLICATION: %q is not dc:rf", part)
		}
		r[dc] = rf
	}
	return r
}

var keyspaceSeq atomic.Int64

func uniqueKeyspace() string {
	return fmt.Sprintf("accord_test_%d_%d_%d", time.Now().Unix()%1_000_000, os.Getpid()%100_000, keyspaceSeq.Add(1))
}

// newKeyspace returns a name no other test run uses and drops that
// keyspace when the test ends (after the stores of the test are closed,
// since cleanups run last-registered first).
func newKeyspace(tb testing.TB, hosts []string, dc string) string {
	tb.Helper()
	ks := uniqueKeyspace()
	tb.Cleanup(func() {
		if err := dropKeyspace(hosts, dc, ks); err != nil {
			tb.Log(err)
		}
	})
	return ks
}

func dropKeyspace(hosts []string, dc, ks string) error {
	opts, _ := Options{Hosts: hosts, LocalDC: dc, Logger: quietLogger()}.withDefaults()
	ss, err := openSchemaSession(opts, "")
	if err != nil {
		return fmt.Errorf("drop keyspace %s: %w", ks, err)
	}
	defer ss.Close()
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	return ss.ddl(ctx, "drop keyspace "+ks, "DROP KEYSPACE IF EXISTS "+ks)
}

func mustDefaults(tb testing.TB, o Options) Options {
	o, err := o.withDefaults()
	if err != nil {
		tb.Fatal(err)
	}
	return o
}

// onceKeyspace is a keyspace made at its first use and shared by the
// tests of this process from then on: the tests keep apart by IDs, as
// guilds and channels do in production, rather than by keyspaces, which
// cost seconds of schema agreement each.
type onceKeyspace struct {
	once  sync.Once
	name  string
	hosts []string
	err   error
}

// get returns the keyspace, creating it with replication repl on first use.
func (k *onceKeyspace) get(tb testing.TB, hosts []string, repl map[string]int) string {
	tb.Helper()
	k.once.Do(func() {
		k.name, k.hosts = uniqueKeyspace(), hosts
		ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
		defer cancel()
		k.err = Migrate(ctx, Options{Hosts: hosts, LocalDC: testDC(), Keyspace: k.name, Replication: repl, Logger: quietLogger()})
	})
	if k.err != nil {
		tb.Fatalf("create keyspace %s: %v", k.name, k.err)
	}
	return k.name
}

func (k *onceKeyspace) drop() {
	if k.name == "" {
		return
	}
	if err := dropKeyspace(k.hosts, testDC(), k.name); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}

// shared is the keyspace of every test that needs no other replication
// and no schema of its own; twoDC the one replicated to a second
// datacenter (twodc_test.go).
var shared, twoDC onceKeyspace

// openShared opens a store on the shared keyspace; the test closes it.
func openShared(tb testing.TB) *Store {
	tb.Helper()
	hosts := testHosts(tb)
	s, err := Open(Options{Hosts: hosts, LocalDC: testDC(), Keyspace: shared.get(tb, hosts, testReplication(tb)), Logger: quietLogger()})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
