package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

// parallel runs fn(0..n-1) in goroutines and returns the errors joined.
// Tests must not call t.Fatal off the test goroutine, hence errors.
func parallel(n int, fn func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func testLargeChannel(t *testing.T, s store.Store) {
	const (
		ch    = 70_001
		other = 70_002
		n     = 5000
	)
	// One message every 3 hours (about 60 buckets), a few days of silence
	// every 500 messages, and the first tenth of the history years earlier.
	all := make([]ID, 0, n)
	tm := t0.Add(-2 * 365 * 24 * time.Hour)
	for i := range n {
		switch {
		case i == n/10:
			tm = t0
		case i%500 == 0:
			tm = tm.Add(45 * 24 * time.Hour)
		}
		tm = tm.Add(3 * time.Hour)
		all = append(all, idAtTime(tm, uint64(i%3)))
	}
	ms := make([]*model.Message, 0, n+n/10)
	for _, id := range all {
		ms = append(ms, message(ch, id))
	}
	var others []ID
	for i := 0; i < n; i += 10 {
		others = append(others, all[i]+5)
		ms = append(ms, message(other, all[i]+5))
	}
	rand.New(rand.NewPCG(7, 8)).Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })

	const writers = 4
	err := parallel(writers, func(w int) error {
		for i := w * 50; i < len(ms); i += writers * 50 {
			batch := &store.Batch{Ops: putMessages(ms[i:min(i+50, len(ms))]...)}
			if err := s.Commit(ctx(t), batch); err != nil {
				return fmt.Errorf("writer %d: %w", w, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	checkLatest(t, s, ch, all[n-1])
	t.Run("Before", func(t *testing.T) {
		walkBefore(t, s, ch, all, 100)
		walkBefore(t, s, ch, all, 37)
		walkBefore(t, s, other, others, 100)
	})
	t.Run("After", func(t *testing.T) { walkAfter(t, s, ch, all, 100) })
	t.Run("Around", func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		for range 50 {
			p := all[r.IntN(n)] + ID(r.IntN(2)) // a message, or just after one
			checkPage(t, s, ch, all, store.MessageQuery{Around: p, Limit: 1 + r.IntN(100)})
		}
	})
}

func testConcurrent(t *testing.T, s store.Store) {
	const (
		writers = 8
		commits = 40
		shared  = 80_000 // every writer also writes here
		target  = 80_001 // a message every writer reacts to
	)
	targetID := idAtTime(t0.Add(-time.Hour), 0)
	commit(t, s, putMessages(message(target, targetID))...)
	ownID := func(w, j int) ID { return idAtTime(t0.Add(time.Duration(j)*time.Second), uint64(2*w)) }
	sharedID := func(w, j int) ID { return idAtTime(t0.Add(time.Duration(j)*time.Second), uint64(2*w+1)) }
	reactor := func(w, j int) ID { return ID(1_000_000 + w*1000 + j) }

	// Readers check that what they see while writes go on is well formed.
	readCtx, stopReaders := context.WithCancel(ctx(t))
	var readerErr error
	var readers sync.WaitGroup
	readers.Go(func() {
		for readCtx.Err() == nil {
			page, err := s.ListMessages(readCtx, shared, store.MessageQuery{Limit: 100})
			if err != nil {
				if readCtx.Err() == nil {
					readerErr = err
				}
				return
			}
			for i := 1; i < len(page); i++ {
				if page[i].ID >= page[i-1].ID || page[i].ChannelID != shared {
					readerErr = fmt.Errorf("ListMessages during writes: %v is not a page of channel %d", ids(page), shared)
					return
				}
			}
			time.Sleep(time.Millisecond)
		}
	})

	err := parallel(writers, func(w int) error {
		for j := range commits {
			b := &store.Batch{}
			b.Add(
				store.Op{Kind: store.OpPutMessage, Message: message(81_000+ID(w), ownID(w, j))},
				store.Op{Kind: store.OpPutMessage, Message: message(shared, sharedID(w, j))},
				react(target, targetID, "👍", reactor(w, j)),
			)
			if err := s.Commit(ctx(t), b); err != nil {
				return fmt.Errorf("writer %d, commit %d: %w", w, j, err)
			}
		}
		return nil
	})
	stopReaders()
	readers.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if readerErr != nil {
		t.Error(readerErr)
	}

	var sharedIDs, reactors []ID
	for w := range writers {
		var own []ID
		for j := range commits {
			own = append(own, ownID(w, j))
			sharedIDs = append(sharedIDs, sharedID(w, j))
			reactors = append(reactors, reactor(w, j))
		}
		walkBefore(t, s, 81_000+ID(w), own, 100)
	}
	walkBefore(t, s, shared, sharedIDs, 100)
	checkLatest(t, s, shared, slices.Max(sharedIDs))

	slices.Sort(reactors)
	var got []ID
	after := ID(0)
	for range len(reactors) + 1 { // bounded, in case a backend repeats a page
		page, err := s.ListReactionUsers(ctx(t), target, targetID, "👍", after, 100)
		if err != nil {
			t.Fatalf("ListReactionUsers: %v", err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1]
	}
	if !slices.Equal(got, reactors) {
		t.Errorf("reactions after concurrent writes: %d users, want %d", len(got), len(reactors))
	}
}
