package pebblestore

import (
	"flag"
	"testing"

	"github.com/accord-chat/accord/core/store/storetest"
)

// The read benchmarks fill a store first; the defaults keep a run short.
// The target scale is -bench.channels 1000 -bench.perchannel 1000.
var (
	benchChannels   = flag.Int("bench.channels", 100, "channels populated by the read benchmarks")
	benchPerChannel = flag.Int("bench.perchannel", 1000, "messages per channel populated by the read benchmarks")
)

// BenchmarkCommitMessage is 64 concurrent committers, one new message per
// Commit, every Commit synced.
func BenchmarkCommitMessage(b *testing.B) {
	s := openTemp(b, false)
	defer s.Close()
	storetest.BenchCommitMessage(b, s, 64)
}

func BenchmarkLatest50(b *testing.B) {
	s := openTemp(b, true)
	defer s.Close()
	chans := storetest.PopulateMessages(b, s, *benchChannels, *benchPerChannel)
	storetest.BenchLatest50(b, s, chans)
}

func BenchmarkBefore50(b *testing.B) {
	s := openTemp(b, true)
	defer s.Close()
	chans := storetest.PopulateMessages(b, s, *benchChannels, *benchPerChannel)
	storetest.BenchBefore50(b, s, chans, *benchPerChannel)
}

// BenchmarkStores is the store comparison of deploy/bench/stores.sh, the
// same steps as the cassandra package's BenchmarkCassandraStores on a
// synced store: populate ACCORD_BENCH_MESSAGES messages over
// ACCORD_BENCH_CHANNELS channels and 150 days (batches of one bucket,
// ACCORD_BENCH_COMMITTERS committers), then CommitMessage (one message per
// Commit), Latest50 and DeepHistory (before-pages 10 buckets back).
func BenchmarkStores(b *testing.B) {
	sc := storetest.BenchScaleFromEnv(b)
	s := openTemp(b, false)
	defer s.Close()
	storetest.BenchStores(b, s, sc)
}
