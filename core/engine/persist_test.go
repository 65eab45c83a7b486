package engine

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/model"
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
// message is still applied (its event is published, which happens once
// it applied, before the store write) but not acknowledged; a read of it waits for the
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
	owner, _, text := ownerWithGuild(t, e, "Guild")
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
	owner, _, text := ownerWithGuild(t, e, "Guild")
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

// ownerWithGuild registers a user who creates a guild, and returns the
// user, the guild and its text channel.
func ownerWithGuild(t *testing.T, e *Engine, name string) (*model.User, ID, ID) {
	t.Helper()
	ctx := context.Background()
	owner, _, err := e.Register(ctx, "owner", "password123")
	if err != nil {
		t.Fatal(err)
	}
	gid, err := e.CreateGuild(ctx, owner.ID, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	var text ID
	_ = e.View(gid, func(s *State) error { text = s.Guild.SystemChannelID; return nil })
	return owner, gid, text
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

// heldReads holds the store reads of one channel's messages until
// released: a read as slow as the test needs (200 ms, or a minute).
type heldReads struct {
	store.Store
	mu      sync.Mutex
	channel ID
	gate    chan struct{} // nil: reads go through
	started chan struct{} // gets a value as each held read starts
}

func (h *heldReads) wait(channelID ID) {
	h.mu.Lock()
	gate := h.gate
	h.mu.Unlock()
	if gate != nil && channelID == h.channel {
		h.started <- struct{}{}
		<-gate
	}
}

// open lets reads through again.
func (h *heldReads) open() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gate != nil {
		close(h.gate)
		h.gate = nil
	}
}

func (h *heldReads) GetMessage(ctx context.Context, channelID, messageID ID) (*model.Message, error) {
	h.wait(channelID)
	return h.Store.GetMessage(ctx, channelID, messageID)
}

func (h *heldReads) HasReaction(ctx context.Context, channelID, messageID ID, emoji string, userID ID) (bool, error) {
	h.wait(channelID)
	return h.Store.HasReaction(ctx, channelID, messageID, emoji, userID)
}

func (h *heldReads) ListPins(ctx context.Context, channelID ID) ([]*model.Message, error) {
	h.wait(channelID)
	return h.Store.ListPins(ctx, channelID)
}

// TestSlowReadOfOneGuildStallsNoOther: while a command of guild A waits
// for a slow store read, an entry of A already in the log and then a
// message of guild B, in the same shard, are applied and published. A
// plan that read the store under A's lock made the apply goroutine wait
// for that lock at A's entry, and B's message behind it.
func TestSlowReadOfOneGuildStallsNoOther(t *testing.T) {
	inner := openStore(t, t.TempDir())
	defer inner.Close()
	hs := &heldReads{Store: inner, started: make(chan struct{}, 16)}
	pub := &signalEvents{events: make(chan Event, 256)}
	e, lb := newLoopbackEngine(t, Config{Store: hs, Logger: slog.New(slog.DiscardHandler), Publisher: pub})
	ctx := context.Background()
	owner, _, err := e.Register(ctx, "owner", "password123")
	if err != nil {
		t.Fatal(err)
	}
	text := func(gid ID) (ch ID) {
		_ = e.View(gid, func(s *State) error { ch = s.Guild.SystemChannelID; return nil })
		return ch
	}
	ga, err := e.CreateGuild(ctx, owner.ID, "Guild A", nil)
	if err != nil {
		t.Fatal(err)
	}
	var gb ID
	for gb == 0 || e.ShardOf(gb) != e.ShardOf(ga) {
		if gb, err = e.CreateGuild(ctx, owner.ID, "Guild B", nil); err != nil {
			t.Fatal(err)
		}
	}
	a, b, shard := text(ga), text(gb), e.ShardOf(ga)
	target, err := e.CreateMessage(ctx, owner.ID, a, MessageParams{Content: "react to me"})
	if err != nil {
		t.Fatal(err)
	}
	drain(pub.events)

	hs.mu.Lock()
	hs.channel, hs.gate = a, make(chan struct{})
	hs.mu.Unlock()
	lb.hold(shard)
	// Before the engine's own cleanup, so a failing run ends.
	t.Cleanup(func() { hs.open(); lb.release(shard) })
	errs := make(chan error, 3)
	go func() {
		_, err := e.CreateMessage(ctx, owner.ID, a, MessageParams{Content: "A, in the log"})
		errs <- err
	}()
	if !lb.awaitQueued(shard, 1) {
		t.Fatal("A's message was not proposed")
	}
	reacted := make(chan error, 1)
	go func() { reacted <- e.AddReaction(ctx, owner.ID, a, target.Message.ID, "👍") }()
	select {
	case <-hs.started:
	case err := <-reacted:
		t.Fatalf("the reaction did not read the store: %v", err)
	}
	go func() { _, err := e.CreateMessage(ctx, owner.ID, b, MessageParams{Content: "B"}); errs <- err }()
	if !lb.awaitQueued(shard, 2) {
		t.Fatal("B's message was not proposed")
	}
	lb.release(shard)

	deadline := time.After(time.Minute)
	for got := 0; got < 2; {
		select {
		case ev := <-pub.events:
			if ev.Type == "MESSAGE_CREATE" {
				got++
			}
		case err := <-reacted:
			t.Fatalf("the reaction returned (%v) while its read was held", err)
		case <-deadline:
			t.Fatal("a slow read of guild A held up applying the shard: the messages were not published")
		}
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	hs.open()
	if err := <-reacted; err != nil {
		t.Fatalf("reaction after the read: %v", err)
	}
	if has, err := inner.HasReaction(ctx, a, target.Message.ID, "👍", owner.ID); err != nil || !has {
		t.Fatalf("reaction not stored: %v %v", has, err)
	}
}
