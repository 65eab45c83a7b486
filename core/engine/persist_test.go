package engine

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/store"
)

// gatedStore holds every Commit until the gate opens. It hides the
// wrapped store's CommitAsync, so the persister uses Commit.
type gatedStore struct {
	store.Store
	mu   sync.Mutex
	gate chan struct{} // closed: open
}

func (g *gatedStore) Commit(ctx context.Context, b *store.Batch) error {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	<-gate
	return g.Store.Commit(ctx, b)
}

func (g *gatedStore) set(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if open {
		close(g.gate)
	} else {
		g.gate = make(chan struct{})
	}
}

// failingStore refuses the next failures Commits.
type failingStore struct {
	store.Store
	failures atomic.Int32
}

func (f *failingStore) Commit(ctx context.Context, b *store.Batch) error {
	if f.failures.Add(-1) >= 0 {
		return errRefused
	}
	f.failures.Store(0)
	return f.Store.Commit(ctx, b)
}

// signalEvents passes each published event to a channel.
type signalEvents struct{ events chan Event }

func (s *signalEvents) Publish(evs []Event) {
	for _, ev := range evs {
		s.events <- ev
	}
}

// TestApplyDoesNotWaitForTheStore: with the store's writes held, a
// message is still applied (its event is published, which happens on the
// apply goroutine) but not acknowledged; a read of it waits for the
// write too; once the store takes the write, both return and the store
// holds the message.
func TestApplyDoesNotWaitForTheStore(t *testing.T) {
	inner := openStore(t, t.TempDir())
	defer inner.Close()
	gs := &gatedStore{Store: inner, gate: make(chan struct{})}
	pub := &signalEvents{events: make(chan Event, 64)}
	e := newTestEngine(t, Config{Store: gs, Logger: slog.New(slog.DiscardHandler), Publisher: pub})
	ctx := context.Background()

	gs.set(true) // set-up writes go through
	owner, _, err := e.Register(ctx, "owner", "password123")
	if err != nil {
		t.Fatal(err)
	}
	gid, err := e.CreateGuild(ctx, owner.ID, "Guild", nil)
	if err != nil {
		t.Fatal(err)
	}
	var text ID
	_ = e.View(gid, func(s *State) error { text = s.Guild.SystemChannelID; return nil })
	drain(pub.events)

	gs.set(false) // no Commit is waiting: the set-up was acknowledged
	type result struct {
		ev  *MessageEvent
		err error
	}
	acked := make(chan result, 1)
	go func() {
		ev, err := e.CreateMessage(ctx, owner.ID, text, MessageParams{Content: "held"})
		acked <- result{ev, err}
	}()
	deadline := time.After(time.Minute)
	var id ID
	for id == 0 {
		select {
		case ev := <-pub.events:
			if ev.Type == "MESSAGE_CREATE" {
				id = ev.Data.(*MessageEvent).Message.ID
			}
		case r := <-acked:
			t.Fatalf("acknowledged (%v) while the store held the write", r.err)
		case <-deadline:
			t.Fatal("the message was not applied while the store held its write: the apply waits for the store")
		}
	}
	read := make(chan error, 1)
	go func() {
		_, _, err := e.Message(ctx, owner.ID, text, id)
		read <- err
	}()
	select {
	case r := <-acked:
		t.Fatalf("acknowledged (%v) while the store held the write", r.err)
	case err := <-read:
		t.Fatalf("read the message (%v) before the store had it", err)
	default:
	}

	gs.set(true)
	r := <-acked
	if r.err != nil || r.ev.Message.ID != id {
		t.Fatalf("CreateMessage: %v, %v", r.ev, r.err)
	}
	if err := <-read; err != nil {
		t.Fatalf("read after the write landed: %v", err)
	}
	if _, err := inner.GetMessage(ctx, text, id); err != nil {
		t.Fatalf("acknowledged message not in the store: %v", err)
	}
}

// TestFailedStoreWriteIsRetried: a write the store refuses is tried again
// until it lands, and nothing is acknowledged before it does.
func TestFailedStoreWriteIsRetried(t *testing.T) {
	inner := openStore(t, t.TempDir())
	defer inner.Close()
	fs := &failingStore{Store: inner}
	e := newTestEngine(t, Config{Store: fs, Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	owner, _, err := e.Register(ctx, "owner", "password123")
	if err != nil {
		t.Fatal(err)
	}
	gid, err := e.CreateGuild(ctx, owner.ID, "Guild", nil)
	if err != nil {
		t.Fatal(err)
	}
	var text ID
	_ = e.View(gid, func(s *State) error { text = s.Guild.SystemChannelID; return nil })
	fs.failures.Store(3)
	ev, err := e.CreateMessage(ctx, owner.ID, text, MessageParams{Content: "retried"})
	if err != nil {
		t.Fatal(err)
	}
	if n := fs.failures.Load(); n != 0 {
		t.Fatalf("acknowledged with %d refusals to go", n)
	}
	if _, err := inner.GetMessage(ctx, text, ev.Message.ID); err != nil {
		t.Fatalf("acknowledged message not in the store: %v", err)
	}
}

func drain(ch chan Event) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

var errRefused = errors.New("store refuses the write")
