package cassandra

import (
	"flag"
	"sync"
	"testing"

	"github.com/accord-chat/accord/core/store"
	"github.com/accord-chat/accord/core/store/storetest"
)

// The read benchmarks fill a keyspace first; the defaults keep that to
// seconds on a development cluster. The target scale is
// -cassandra.channels 1000 -cassandra.perchannel 1000.
var (
	benchChannels   = flag.Int("cassandra.channels", 20, "channels populated by the read benchmarks")
	benchPerChannel = flag.Int("cassandra.perchannel", 500, "messages per channel populated by the read benchmarks")
	benchCommitters = flag.Int("cassandra.committers", 64, "concurrent committers of BenchmarkCassandraCommitMessage")
)

// The benchmarks share one store: the testing package calls a benchmark
// function several times while it sizes b.N, and a keyspace takes seconds
// to create. The store is closed and its keyspace dropped by TestMain.
var bench struct {
	open     sync.Once
	s        *Store
	err      error
	populate sync.Once
	chans    []store.ID
	cleanup  func()
}

func benchStore(b *testing.B) *Store {
	b.Helper()
	hosts := testHosts(b)
	bench.open.Do(func() {
		ks := uniqueKeyspace()
		bench.s, bench.err = Open(Options{Hosts: hosts, LocalDC: testDC(), Keyspace: ks, Replication: testReplication(b), Logger: quietLogger()})
		bench.cleanup = func() {
			if bench.s != nil {
				bench.s.Close()
			}
			_ = dropKeyspace(hosts, testDC(), ks)
		}
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.s
}

func benchChannelsOf(b *testing.B, s *Store) []store.ID {
	bench.populate.Do(func() {
		bench.chans = storetest.PopulateMessages(b, s, *benchChannels, *benchPerChannel)
	})
	return bench.chans
}

// BenchmarkCassandraCommitMessage is concurrent committers, one new
// message per Commit at LOCAL_QUORUM.
func BenchmarkCassandraCommitMessage(b *testing.B) {
	s := benchStore(b)
	b.ResetTimer()
	storetest.BenchCommitMessage(b, s, *benchCommitters)
}

// BenchmarkCassandraLatest50 reads the latest page of a random channel.
func BenchmarkCassandraLatest50(b *testing.B) {
	s := benchStore(b)
	chans := benchChannelsOf(b, s)
	b.ResetTimer()
	storetest.BenchLatest50(b, s, chans)
}

// BenchmarkCassandraBefore50 reads "before" pages from random points,
// which cross bucket boundaries.
func BenchmarkCassandraBefore50(b *testing.B) {
	s := benchStore(b)
	chans := benchChannelsOf(b, s)
	b.ResetTimer()
	storetest.BenchBefore50(b, s, chans, *benchPerChannel)
}

// BenchmarkCassandraStores is the store comparison of
// deploy/bench/stores.sh, the same steps as the pebblestore package's
// BenchmarkStores: populate ACCORD_BENCH_MESSAGES messages over
// ACCORD_BENCH_CHANNELS channels and 150 days (single-partition batches,
// ACCORD_BENCH_COMMITTERS committers), then CommitMessage (one message per
// Commit at LOCAL_QUORUM), Latest50 and DeepHistory (before-pages 10
// buckets back).
func BenchmarkCassandraStores(b *testing.B) {
	sc := storetest.BenchScaleFromEnv(b)
	s := benchStore(b)
	storetest.BenchStores(b, s, sc)
}
