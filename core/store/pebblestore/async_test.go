package pebblestore

import (
	"context"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
)

// CommitAsync makes a batch visible at once and durable once wait returns;
// after a reopen every waited-for batch is there.
func TestCommitAsyncVisibleThenDurable(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	gen := snowflake.NewGenerator(0, 0)
	const ch = snowflake.ID(42)
	var waits []func() error
	var ids []snowflake.ID
	for i := 0; i < 200; i++ {
		id := gen.Next()
		m := &model.Message{ID: id, ChannelID: ch, AuthorID: 1, Content: "x", Timestamp: time.Now()}
		wait, err := s.CommitAsync(ctx, &store.Batch{Ops: []store.Op{{Kind: store.OpPutMessage, ChannelID: ch, ID: id, Message: m}}})
		if err != nil {
			t.Fatal(err)
		}
		// Visible before the sync: the next command of the guild may read it.
		if _, err := s.GetMessage(ctx, ch, id); err != nil {
			t.Fatalf("message %d not visible after CommitAsync: %v", i, err)
		}
		waits = append(waits, wait)
		ids = append(ids, id)
	}
	for _, w := range waits {
		if err := w(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(Options{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for _, id := range ids {
		if _, err := s2.GetMessage(ctx, ch, id); err != nil {
			t.Fatalf("message %d lost after reopen: %v", id, err)
		}
	}
}

// Close waits for pending syncs instead of closing the database under them.
func TestCloseWaitsForPendingSync(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	m := &model.Message{ID: 7, ChannelID: 1, AuthorID: 1, Content: "x"}
	wait, err := s.CommitAsync(context.Background(), &store.Batch{Ops: []store.Op{{Kind: store.OpPutMessage, ChannelID: 1, ID: 7, Message: m}}})
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while a sync was pending")
	case <-time.After(50 * time.Millisecond):
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}
