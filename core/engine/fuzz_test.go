package engine_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/internal/accordtest"
)

// FuzzDecodeEntry: no input makes the entry decoder panic, and what it
// accepts re-encodes to an entry that decodes to the same encoding.
func FuzzDecodeEntry(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "entries", "*.entry"))
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{0xAC, 99, '{', '}'})
	f.Add([]byte(`{"k":1,"ev":[{"t":"X","dt":"map","d":{}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		kind, _, err := engine.DecodeEntry(data)
		if err != nil {
			return
		}
		once, err := engine.ReencodeEntry(data)
		if err != nil {
			t.Fatalf("decoded but does not re-encode: %v", err)
		}
		kind2, _, err := engine.DecodeEntry(once)
		if err != nil || kind2 != kind {
			t.Fatalf("re-encoded entry decodes to kind %d, %v; want kind %d", kind2, err, kind)
		}
		twice, err := engine.ReencodeEntry(once)
		if err != nil || !bytes.Equal(once, twice) {
			t.Fatalf("encoding is not stable:\n%s\n%s", once, twice)
		}
	})
}

// FuzzRestoreShard: no snapshot makes restore panic, a bad one leaves an
// error (not half a state), and a restored state snapshots into one that
// restores to the same state.
func FuzzRestoreShard(f *testing.F) {
	c := accordtest.NewCluster(f, accordtest.Options{Members: 1, Clock: goldenClock})
	accordtest.Workload{Seed: 3, Steps: 150}.Run(f, c.OnLeader, nil)
	c.WaitConverged()
	e := c.Members[0].Engine
	for s := range e.Shards() {
		var buf bytes.Buffer
		if err := e.SnapshotShard(s)(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(s), buf.Bytes())
	}
	f.Add(uint8(0), []byte(`{"v":1,"shard":0,"guilds":[null]}`))
	f.Add(uint8(1), []byte(`{"v":7,"shard":1}`))
	fresh := func(t *testing.T) *engine.Engine {
		e := engine.New(engine.Config{Store: c.Store, Shards: e.Shards(), Logger: slog.New(slog.DiscardHandler)})
		t.Cleanup(e.Close)
		return e
	}
	f.Fuzz(func(t *testing.T, shard uint8, data []byte) {
		s := int(shard) % e.Shards()
		a := fresh(t)
		before := accordtest.State(t, a)
		if err := a.RestoreShard(s, bytes.NewReader(data)); err != nil {
			if got := accordtest.State(t, a); got != before {
				t.Fatalf("a failed restore changed the state: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := a.SnapshotShard(s)(&buf); err != nil {
			t.Fatalf("snapshot of a restored shard: %v", err)
		}
		b := fresh(t)
		if err := b.RestoreShard(s, &buf); err != nil {
			t.Fatalf("restore of a restored shard's snapshot: %v", err)
		}
		accordtest.EnsureSameState(t, a, b)
	})
}
