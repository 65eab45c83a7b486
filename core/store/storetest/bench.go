package storetest

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
)

// Bench runs the standard benchmarks on stores from open: CommitMessage
// (64 concurrent committers, one message per Commit) and Latest50 (latest
// page of a random channel, on 100 channels of 1,000 messages). Backends
// with their own needs can call the pieces directly.
func Bench(b *testing.B, open func(b *testing.B) store.Store) {
	b.Run("CommitMessage", func(b *testing.B) {
		s := open(b)
		defer s.Close()
		BenchCommitMessage(b, s, 64)
	})
	b.Run("Latest50", func(b *testing.B) {
		s := open(b)
		defer s.Close()
		BenchLatest50(b, s, PopulateMessages(b, s, 100, 1000))
	})
}

// benchContent is a typical message's text, about 120 bytes.
var benchContent = strings.Repeat("the quick brown fox jumps over the lazy dog ", 3)

func benchMessage(channelID, id ID) *model.Message {
	return &model.Message{
		ID: id, ChannelID: channelID, GuildID: 1, AuthorID: 1000 + id%500,
		Content: benchContent, Timestamp: id.Time(), Mentions: []ID{1000 + id%7},
	}
}

// BenchCommitMessage measures Commits of one new message each from
// committers goroutines spread over 1,000 channels, and reports msgs/s.
func BenchCommitMessage(b *testing.B, s store.Store, committers int) {
	gen := snowflake.NewGenerator(1, 1)
	var next atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(max(1, (committers+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0)))
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ch := ID(10_000 + next.Add(1)%1000)
			batch := &store.Batch{Ops: []store.Op{{Kind: store.OpPutMessage, Message: benchMessage(ch, gen.Next())}}}
			if err := s.Commit(b.Context(), batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// PopulateMessages writes perChannel messages into each of channels
// channels, one an hour per channel so that they span several buckets, and
// returns the channel IDs. It commits large batches from a few goroutines:
// it is for filling a store fast, not for measuring.
func PopulateMessages(tb testing.TB, s store.Store, channels, perChannel int) []ID {
	tb.Helper()
	chans := make([]ID, channels)
	for i := range chans {
		chans[i] = ID(20_000 + i)
	}
	start := time.Now().Add(-time.Duration(perChannel) * time.Hour).Truncate(time.Hour)
	const batchSize = 500
	total := channels * perChannel
	workers := max(1, runtime.GOMAXPROCS(0))
	err := parallel(workers, func(w int) error {
		// Message k is the (k / channels)-th of channel k % channels, so
		// every batch touches many channels, as live traffic does.
		for lo := w * batchSize; lo < total; lo += workers * batchSize {
			var batch store.Batch
			for k := lo; k < min(lo+batchSize, total); k++ {
				ch := chans[k%channels]
				at := start.Add(time.Duration(k/channels) * time.Hour)
				id := idAtTime(at, uint64(k%channels))
				batch.Add(store.Op{Kind: store.OpPutMessage, Message: benchMessage(ch, id)})
			}
			if err := s.Commit(tb.Context(), &batch); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("populate: %v", err)
	}
	return chans
}

// BenchLatest50 measures ListMessages of the latest 50 messages of a
// random channel and reports the p50 and p99 latencies.
func BenchLatest50(b *testing.B, s store.Store, channels []ID) {
	benchQuery(b, s, channels, func(*rand.Rand) store.MessageQuery { return store.MessageQuery{Limit: 50} })
}

// BenchBefore50 measures "before" pages from random points.
func BenchBefore50(b *testing.B, s store.Store, channels []ID, perChannel int) {
	now := time.Now()
	benchQuery(b, s, channels, func(r *rand.Rand) store.MessageQuery {
		back := time.Duration(r.IntN(perChannel)) * time.Hour
		return store.MessageQuery{Before: snowflake.FromTime(now.Add(-back)), Limit: 50}
	})
}

func benchQuery(b *testing.B, s store.Store, channels []ID, query func(*rand.Rand) store.MessageQuery) {
	r := rand.New(rand.NewPCG(11, 12))
	var lat []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		ch := channels[r.IntN(len(channels))]
		q := query(r)
		t := time.Now()
		ms, err := s.ListMessages(b.Context(), ch, q)
		lat = append(lat, time.Since(t))
		if err != nil {
			b.Fatal(err)
		}
		if len(ms) == 0 {
			b.Fatalf("ListMessages(%d, %s) returned nothing", ch, fmtQuery(q))
		}
	}
	reportLatency(b, lat)
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}
