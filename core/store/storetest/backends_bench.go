package storetest

import (
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

// The store-comparison benchmarks (BenchmarkStores* in the backends'
// packages) read their scale from the environment, so that one go test
// invocation over several packages sizes every backend the same way:
//
//	ACCORD_BENCH_MESSAGES    messages populated before the reads (default 20,000)
//	ACCORD_BENCH_CHANNELS    channels they are spread over (default 20)
//	ACCORD_BENCH_COMMITTERS  concurrent committers, populate and CommitMessage (default 64)
//
// deploy/bench/stores.sh runs them at 1,000,000 messages over 1,000
// channels.

// BenchScale is the scale of the store-comparison benchmarks.
type BenchScale struct {
	Messages, Channels, Committers int
}

// BenchScaleFromEnv reads BenchScale from the ACCORD_BENCH_* variables.
func BenchScaleFromEnv(tb testing.TB) BenchScale {
	tb.Helper()
	get := func(name string, def int) int {
		v := os.Getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			tb.Fatalf("%s=%q: want a positive integer", name, v)
		}
		return n
	}
	sc := BenchScale{
		Messages:   get("ACCORD_BENCH_MESSAGES", 20_000),
		Channels:   get("ACCORD_BENCH_CHANNELS", 20),
		Committers: get("ACCORD_BENCH_COMMITTERS", 64),
	}
	if sc.Messages < sc.Channels {
		tb.Fatalf("ACCORD_BENCH_MESSAGES (%d) < ACCORD_BENCH_CHANNELS (%d)", sc.Messages, sc.Channels)
	}
	return sc
}

// HistorySpan is how far back the populated history of every channel
// reaches: 150 days, 15 ten-day buckets, so that a page 10 buckets back
// (DeepHistoryBack) still has older messages under it.
const HistorySpan = 150 * 24 * time.Hour

// DeepHistoryBack is how far behind the newest message BenchDeepHistory
// anchors its pages: 10 buckets.
const DeepHistoryBack = 10 * model.BucketWindow

// Populated is what PopulateSpread wrote.
type Populated struct {
	Channels []ID
	Newest   time.Time // timestamp of the newest message of every channel
	Messages int
	Elapsed  time.Duration
}

// PopulateSpread writes sc.Messages messages over sc.Channels channels,
// evenly spaced over HistorySpan up to now, from sc.Committers concurrent
// goroutines. Each Commit is a batch of up to batchSize messages of one
// channel in one bucket, that is one partition for a bucketed backend, the
// cheapest bulk write each backend has. It reports nothing to b: the
// caller reports Elapsed.
func PopulateSpread(tb testing.TB, s store.Store, sc BenchScale, batchSize int) Populated {
	tb.Helper()
	perChannel := sc.Messages / sc.Channels
	chans := make([]ID, sc.Channels)
	for i := range chans {
		chans[i] = ID(30_000 + i)
	}
	newest := time.Now().Truncate(time.Second)
	oldest := newest.Add(-HistorySpan)
	step := HistorySpan / time.Duration(max(1, perChannel-1))
	at := func(j int) time.Time { return oldest.Add(time.Duration(j) * step) }

	// Work items: (channel, first index, end index), cut at bucket
	// boundaries and at batchSize, interleaved over channels so that the
	// committers spread over many partitions as live traffic does.
	type item struct{ ch, lo, hi int }
	var perChan [][]item
	for c := range chans {
		var its []item
		for lo := 0; lo < perChannel; {
			b := model.Bucket(idAtTime(at(lo), 0))
			hi := lo + 1
			for hi < perChannel && hi-lo < batchSize && model.Bucket(idAtTime(at(hi), 0)) == b {
				hi++
			}
			its = append(its, item{c, lo, hi})
			lo = hi
		}
		perChan = append(perChan, its)
	}
	var items []item
	for k := 0; ; k++ {
		added := false
		for c := range perChan {
			if k < len(perChan[c]) {
				items = append(items, perChan[c][k])
				added = true
			}
		}
		if !added {
			break
		}
	}

	var next atomic.Int64
	start := time.Now()
	err := parallel(sc.Committers, func(int) error {
		for {
			i := int(next.Add(1) - 1)
			if i >= len(items) {
				return nil
			}
			it := items[i]
			batch := store.Batch{Ops: make([]store.Op, 0, it.hi-it.lo)}
			for j := it.lo; j < it.hi; j++ {
				id := idAtTime(at(j), uint64(it.ch))
				batch.Add(store.Op{Kind: store.OpPutMessage, Message: benchMessage(chans[it.ch], id)})
			}
			if err := s.Commit(tb.Context(), &batch); err != nil {
				return err
			}
		}
	})
	if err != nil {
		tb.Fatalf("populate: %v", err)
	}
	return Populated{Channels: chans, Newest: newest, Messages: perChannel * sc.Channels, Elapsed: time.Since(start)}
}

// BenchDeepHistory measures "before" pages of 50 anchored DeepHistoryBack
// (10 buckets) behind the newest message, plus up to a day of jitter, on a
// random channel, and reports p50 and p99. The read starts 10 buckets
// back from the channel's newest bucket and walks back through older
// buckets until the page is full.
func BenchDeepHistory(b *testing.B, s store.Store, p Populated) {
	anchor := p.Newest.Add(-DeepHistoryBack)
	benchQuery(b, s, p.Channels, func(r *rand.Rand) store.MessageQuery {
		jitter := time.Duration(r.Int64N(int64(24 * time.Hour)))
		return store.MessageQuery{Before: idAtTime(anchor.Add(-jitter), 0), Limit: 50}
	})
}

// storesBatch is the populate batch: 50 messages of one partition, about
// 15 KB, well under Cassandra's 50 KiB batch limit.
const storesBatch = 50

// BenchStores runs the store comparison on s as sub-benchmarks: Populate
// (once; msgs/s and seconds), CommitMessage (sc.Committers committers, one
// message per Commit), Latest50 and DeepHistory10 (p50/p99).
func BenchStores(b *testing.B, s store.Store, sc BenchScale) {
	p := PopulateSpread(b, s, sc, storesBatch)
	b.Logf("populated %d messages over %d channels in %v (%.0f msgs/s, %d committers, batches of <= %d)",
		p.Messages, len(p.Channels), p.Elapsed.Round(time.Millisecond), float64(p.Messages)/p.Elapsed.Seconds(), sc.Committers, storesBatch)
	b.Run("Populate", func(b *testing.B) {
		for b.Loop() {
		}
		b.ReportMetric(float64(p.Elapsed.Nanoseconds())/float64(p.Messages), "ns/op")
		b.ReportMetric(float64(p.Messages)/p.Elapsed.Seconds(), "msgs/s")
		b.ReportMetric(p.Elapsed.Seconds(), "s")
	})
	b.Run("CommitMessage", func(b *testing.B) { BenchCommitMessage(b, s, sc.Committers) })
	b.Run("Latest50", func(b *testing.B) { BenchLatest50(b, s, p.Channels) })
	b.Run("DeepHistory10", func(b *testing.B) { BenchDeepHistory(b, s, p) })
}
