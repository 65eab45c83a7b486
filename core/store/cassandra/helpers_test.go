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
	pool.close()
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
	sess, err := newSession(opts, "")
	if err != nil {
		return fmt.Errorf("drop keyspace %s: %w", ks, err)
	}
	defer sess.Close()
	if err := schemaQuery(sess, "DROP KEYSPACE IF EXISTS "+ks).Exec(); err != nil {
		return fmt.Errorf("drop keyspace %s: %w", ks, err)
	}
	return nil
}

func mustDefaults(tb testing.TB, o Options) Options {
	o, err := o.withDefaults()
	if err != nil {
		tb.Fatal(err)
	}
	return o
}

// openFresh opens a store on a new keyspace with the test replication,
// taken from the pool.
func openFresh(tb testing.TB) *Store {
	tb.Helper()
	hosts := testHosts(tb)
	ks := pool.get(tb, hosts)
	s, err := Open(Options{Hosts: hosts, LocalDC: testDC(), Keyspace: ks, Logger: quietLogger()})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// pool makes keyspaces with the schema applied ahead of the tests that
// want one. Creating a keyspace is a dozen and a half schema changes, each
// waiting for every node to agree, about 9 s on a two-node cluster;
// several made at once take about 4 s each, and they overlap the tests.
var pool ksPool

const poolWorkers = 3

type ksPool struct {
	once    sync.Once
	ready   chan string
	stop    chan struct{}
	failed  chan struct{}
	err     error
	workers sync.WaitGroup
	drops   sync.WaitGroup
	hosts   []string
	closed  atomic.Bool
}

func (p *ksPool) get(tb testing.TB, hosts []string) string {
	tb.Helper()
	repl := testReplication(tb)
	p.once.Do(func() {
		p.ready, p.stop, p.failed, p.hosts = make(chan string), make(chan struct{}), make(chan struct{}), hosts
		for range poolWorkers {
			p.workers.Go(func() { p.work(repl) })
		}
	})
	if p.closed.Load() {
		tb.Fatal("keyspace pool used after close")
	}
	select {
	case ks := <-p.ready:
		tb.Cleanup(func() { p.drop(ks) })
		return ks
	case <-p.failed:
		tb.Fatalf("keyspace pool: %v", p.err)
		return ""
	}
}

func (p *ksPool) work(repl map[string]int) {
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		ks := uniqueKeyspace()
		err := Migrate(context.Background(), Options{Hosts: p.hosts, LocalDC: testDC(), Keyspace: ks, Replication: repl, Logger: quietLogger()})
		if err != nil {
			p.drop(ks)
			select {
			case <-p.failed:
			default:
				p.err = err
				close(p.failed)
			}
			return
		}
		select {
		case p.ready <- ks:
		case <-p.stop:
			p.drop(ks)
			return
		}
	}
}

func (p *ksPool) drop(ks string) {
	p.drops.Go(func() {
		if err := dropKeyspace(p.hosts, testDC(), ks); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	})
}

// close stops the workers, drops the keyspaces made ahead and waits for
// every drop. Tests that stop nodes call it first: a schema change waits
// for every node.
func (p *ksPool) close() {
	if p.stop == nil || !p.closed.CompareAndSwap(false, true) {
		p.drops.Wait()
		return
	}
	close(p.stop)
	p.workers.Wait()
	p.drops.Wait()
}
