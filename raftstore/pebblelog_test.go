package raftstore

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestPebbleLogStore(t *testing.T) {
	dir := t.TempDir()
	db, err := openLogDB(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a, b := db.shard(0), db.shard(1)
	if i, err := a.FirstIndex(); err != nil || i != 0 {
		t.Fatalf("empty FirstIndex = %d, %v", i, err)
	}
	now := time.Now().Round(0)
	var logs []*raft.Log
	for i := uint64(1); i <= 10; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 2, Type: raft.LogCommand, Data: []byte{byte(i)}, AppendedAt: now})
	}
	logs[3].Extensions = []byte("ext")
	if err := a.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := b.StoreLog(&raft.Log{Index: 100, Term: 1, Type: raft.LogNoop}); err != nil {
		t.Fatal(err)
	}
	// The shards do not see each other's entries.
	if f, _ := a.FirstIndex(); f != 1 {
		t.Fatalf("shard 0 FirstIndex %d", f)
	}
	if l, _ := a.LastIndex(); l != 10 {
		t.Fatalf("shard 0 LastIndex %d", l)
	}
	if f, _ := b.FirstIndex(); f != 100 {
		t.Fatalf("shard 1 FirstIndex %d", f)
	}
	var got raft.Log
	if err := a.GetLog(4, &got); err != nil {
		t.Fatal(err)
	}
	if got.Index != 4 || got.Term != 2 || got.Type != raft.LogCommand || !bytes.Equal(got.Data, []byte{4}) ||
		string(got.Extensions) != "ext" || !got.AppendedAt.Equal(now) {
		t.Fatalf("GetLog(4) = %+v", got)
	}
	if err := a.GetLog(11, &got); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog(11) err = %v", err)
	}
	if err := a.DeleteRange(1, 6); err != nil {
		t.Fatal(err)
	}
	if f, _ := a.FirstIndex(); f != 7 {
		t.Fatalf("after DeleteRange FirstIndex %d", f)
	}
	if l, _ := b.LastIndex(); l != 100 {
		t.Fatal("DeleteRange reached another shard")
	}
	// Stable store: missing keys say "not found", as raft expects.
	if _, err := a.Get([]byte("CurrentTerm")); err == nil || err.Error() != "not found" {
		t.Fatalf("missing key err = %v", err)
	}
	if err := a.SetUint64([]byte("CurrentTerm"), 7); err != nil {
		t.Fatal(err)
	}
	if v, err := a.GetUint64([]byte("CurrentTerm")); err != nil || v != 7 {
		t.Fatalf("GetUint64 = %d, %v", v, err)
	}
	if _, err := b.GetUint64([]byte("CurrentTerm")); err == nil {
		t.Fatal("stable keys leak across shards")
	}
	a.Close()
	b.Close()
	// Reopened, everything is still there.
	db, err = openLogDB(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a = db.shard(0)
	defer a.Close()
	if l, _ := a.LastIndex(); l != 10 {
		t.Fatalf("after reopen LastIndex %d", l)
	}
	if v, _ := a.GetUint64([]byte("CurrentTerm")); v != 7 {
		t.Fatal("stable value lost")
	}
}

func TestDecodeLogRejectsCorruptRecords(t *testing.T) {
	full := encodeLog(&raft.Log{Index: 1, Term: 1, Data: []byte("hello"), Extensions: []byte("x")})
	for n := 0; n < len(full); n++ {
		var l raft.Log
		if err := decodeLog(1, full[:n], &l); err == nil {
			t.Fatalf("a record cut to %d of %d bytes decoded", n, len(full))
		}
	}
}
