package engine

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/internal/wait"
)

// gatedPublisher holds Publish on the MESSAGE_CREATE of one content
// until released, as a fan-out to thousands of slow sessions would, and
// runs inspect (if set) once released, still inside Publish.
type gatedPublisher struct {
	hold    string
	held    ID // the held message, set before entered closes
	entered chan struct{}
	release chan struct{}
	inspect func()

	once   sync.Once
	mu     sync.Mutex
	events []Event
}

// open lets Publish go on; a test that fails while it holds must not
// leave the engine's goroutine stuck for Close.
func (g *gatedPublisher) open() { g.once.Do(func() { close(g.release) }) }

func (g *gatedPublisher) Publish(evs []Event) {
	for _, ev := range evs {
		if me, ok := ev.Data.(*MessageEvent); ok && ev.Type == "MESSAGE_CREATE" && me.Message.Content == g.hold {
			g.held = me.Message.ID
			close(g.entered)
			<-g.release
			if g.inspect != nil {
				g.inspect()
			}
		}
		g.mu.Lock()
		g.events = append(g.events, ev)
		g.mu.Unlock()
	}
}

func (g *gatedPublisher) messages() []Event {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []Event
	for _, ev := range g.events {
		if ev.Type == "MESSAGE_CREATE" {
			out = append(out, ev)
		}
	}
	return out
}

func newGatedEngine(t *testing.T, hold string) (*Engine, *gatedPublisher) {
	pub := &gatedPublisher{hold: hold, entered: make(chan struct{}), release: make(chan struct{})}
	st := openStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	e := newTestEngine(t, Config{Store: st, Logger: slog.New(slog.DiscardHandler), Publisher: pub})
	t.Cleanup(pub.open) // runs before the engine's Close
	return e, pub
}

// TestSlowFanOutDoesNotStallApply: while the publisher is stuck on one
// message's fan-out, the messages after it in the shard are still applied
// (the state has them); none is acknowledged before its events went to
// the publisher, and once it moves on they are published in log order.
func TestSlowFanOutDoesNotStallApply(t *testing.T) {
	e, pub := newGatedEngine(t, "slow")
	ctx := context.Background()
	owner, gid, text := ownerWithGuild(t, e, "Guild")
	shard := e.shardOf(gid)

	acked := make(chan error, 8)
	go func() {
		_, err := e.CreateMessage(ctx, owner.ID, text, MessageParams{Content: "slow"})
		acked <- err
	}()
	<-pub.entered
	before := e.Applied(shard)
	const more = 5
	for i := range more {
		go func() {
			_, err := e.CreateMessage(ctx, owner.ID, text, MessageParams{Content: fmt.Sprint("next ", i)})
			acked <- err
		}()
	}
	wait.For(t, "the messages after the slow one to apply", func() bool { return e.Applied(shard) >= before+more })
	var last ID
	_ = e.View(gid, func(s *State) error { last = s.Channels[text].LastMessageID; return nil })
	if last == pub.held {
		t.Fatal("the channel's last message is still the one being published")
	}
	select {
	case err := <-acked:
		t.Fatalf("a message was acknowledged (%v) before its event was published", err)
	default:
	}
	pub.open()
	for range more + 1 {
		if err := <-acked; err != nil {
			t.Fatal(err)
		}
	}
	got := pub.messages()
	if len(got) != more+1 || got[0].Data.(*MessageEvent).Message.Content != "slow" {
		t.Fatalf("published %d MESSAGE_CREATEs, first %v; want %d starting with the slow one", len(got), got[0].Data, more+1)
	}
	if !slices.IsSortedFunc(got, func(a, b Event) int { return int(a.Index) - int(b.Index) }) {
		t.Fatal("MESSAGE_CREATEs were published out of log order")
	}
}

// TestBarrierEntryWaitsForFanOut: an entry that changes what the
// publisher filters with (a channel's overwrites) is not applied while an
// earlier message of its shard is still being published, so that message
// is filtered against the state it was created in.
func TestBarrierEntryWaitsForFanOut(t *testing.T) {
	e, pub := newGatedEngine(t, "before the change")
	ctx := context.Background()
	owner, gid, text := ownerWithGuild(t, e, "Guild")
	shard := e.shardOf(gid)
	// Another guild on the same shard: its change does not wait behind
	// the held message's command, only behind its fan-out.
	var other, otherText ID
	for i := 0; other == 0; i++ {
		g, err := e.CreateGuild(ctx, owner.ID, fmt.Sprint("other ", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		if e.shardOf(g) == shard {
			other = g
			_ = e.View(g, func(s *State) error { otherText = s.Guild.SystemChannelID; return nil })
		}
	}
	overwrites := func() int {
		var n int
		_ = e.View(other, func(s *State) error { n = len(s.Channels[otherText].PermissionOverwrites); return nil })
		return n
	}
	seen := -1
	pub.inspect = func() { seen = overwrites() }

	acked := make(chan error, 2)
	go func() {
		_, err := e.CreateMessage(ctx, owner.ID, text, MessageParams{Content: "before the change"})
		acked <- err
	}()
	<-pub.entered
	deny := []model.Overwrite{{ID: other, Type: 0, Deny: 1 << 10}}
	go func() {
		_, err := e.ModifyChannel(ctx, owner.ID, otherText, ChannelPatch{PermissionOverwrites: &deny})
		acked <- err
	}()
	f := e.fanouts[shard]
	wait.For(t, "the channel change to wait for the fan-out", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.drained != nil
	})
	if n := overwrites(); n != 0 {
		t.Fatalf("the channel change applied (%d overwrites) while an earlier message was being published", n)
	}
	pub.open()
	for range 2 {
		if err := <-acked; err != nil {
			t.Fatal(err)
		}
	}
	if seen != 0 {
		t.Fatalf("the message was published against a state with %d overwrites, want the state it was created in", seen)
	}
	if n := overwrites(); n != 1 {
		t.Fatalf("after the fan-out, the channel has %d overwrites, want 1", n)
	}
}
