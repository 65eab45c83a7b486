package accordtest

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
	"github.com/accord-chat/accord/raftstore"
)

// Shards is the number of shards of test regions: more than one, so that
// cross-shard paths (accounts vs guilds) are exercised.
const Shards = 4

// Engine returns a loaded engine that is the sole replica of a new
// region, the engine a node alone runs, for tests of the packages above
// it (REST, gateway): the same write path as production (propose, commit,
// apply, publish), with the Raft transport in memory. stop shuts the
// region down (also called when the test ends; calling it twice is fine).
func Engine(t testing.TB, st store.Store) (eng *engine.Engine, stop func()) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	eng = engine.New(engine.Config{Store: st, Logger: log, Shards: Shards, IDs: snowflake.NewGenerator(0, 0)})
	if err := eng.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	rn, err := raftstore.NewInmemNetwork().New(raftstore.Config{
		NodeID: "node-0", Shards: Shards, Bootstrap: true, Machine: eng, Logger: log,
		HeartbeatTimeout: 50 * time.Millisecond, ElectionTimeout: 50 * time.Millisecond,
		LeaderLeaseTimeout: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	eng.Attach(rn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rn.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rn.WaitLeaders(ctx); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = rn.Close()
			eng.Close()
		})
	}
	t.Cleanup(stop)
	return eng, stop
}
