package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/hashicorp/raft"
)

// logDB keeps the Raft logs and stable stores of all of a node's shards in
// one Pebble database. Appends of every shard then share one write-ahead
// log, whose group commit turns the shards' concurrent appends into one
// fsync; raft-boltdb pays a B+tree copy-on-write commit (two fsyncs) per
// append per shard, which measured as the write path's bottleneck.
type logDB struct {
	db   *pebble.DB
	mu   sync.Mutex
	refs int
}

// openLogDB opens (or creates) the database at dir.
func openLogDB(dir string, log *slog.Logger) (*logDB, error) {
	opts := &pebble.Options{
		// Raft's entries are written once, read back rarely (followers
		// catching up) and deleted in ranges after snapshots.
		MemTableSize:                4 << 20,
		MemTableStopWritesThreshold: 4,
		Logger:                      pebbleLogger{log},
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("raftstore: open log store %s: %w", dir, err)
	}
	return &logDB{db: db}, nil
}

// shard returns the log and stable store of one shard; close each.
func (l *logDB) shard(i int) *shardLogStore {
	l.mu.Lock()
	l.refs++
	l.mu.Unlock()
	return &shardLogStore{db: l, shard: byte(i)}
}

func (l *logDB) release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refs--
	if l.refs == 0 {
		return l.db.Close()
	}
	return nil
}

// shardLogStore implements raft.LogStore and raft.StableStore for one
// shard: keys 'l', shard, index (big-endian) and 's', shard, key.
type shardLogStore struct {
	db    *logDB
	shard byte
	once  sync.Once
}

var _ raft.LogStore = (*shardLogStore)(nil)
var _ raft.StableStore = (*shardLogStore)(nil)

// errNotFound is what hashicorp/raft expects from a StableStore for a
// missing key: it compares the message.
var errNotFound = errors.New("not found")

func (s *shardLogStore) logKey(index uint64) []byte {
	k := make([]byte, 10)
	k[0], k[1] = 'l', s.shard
	binary.BigEndian.PutUint64(k[2:], index)
	return k
}

func (s *shardLogStore) stableKey(key []byte) []byte {
	return append([]byte{'s', s.shard}, key...)
}

// FirstIndex implements raft.LogStore.
func (s *shardLogStore) FirstIndex() (uint64, error) {
	it, err := s.db.db.NewIter(&pebble.IterOptions{LowerBound: s.logKey(0), UpperBound: s.logKey(math.MaxUint64)})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.First() {
		return 0, it.Error()
	}
	return binary.BigEndian.Uint64(it.Key()[2:]), nil
}

// LastIndex implements raft.LogStore.
func (s *shardLogStore) LastIndex() (uint64, error) {
	it, err := s.db.db.NewIter(&pebble.IterOptions{LowerBound: s.logKey(0), UpperBound: s.logKey(math.MaxUint64)})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	return binary.BigEndian.Uint64(it.Key()[2:]), nil
}

// GetLog implements raft.LogStore.
func (s *shardLogStore) GetLog(index uint64, out *raft.Log) error {
	v, closer, err := s.db.db.Get(s.logKey(index))
	if errors.Is(err, pebble.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	return decodeLog(index, v, out)
}

// StoreLog implements raft.LogStore.
func (s *shardLogStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs implements raft.LogStore: one synced batch.
func (s *shardLogStore) StoreLogs(logs []*raft.Log) error {
	b := s.db.db.NewBatch()
	defer b.Close()
	for _, l := range logs {
		if err := b.Set(s.logKey(l.Index), encodeLog(l), nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
}

// DeleteRange implements raft.LogStore.
func (s *shardLogStore) DeleteRange(min, max uint64) error {
	var end []byte
	if max == math.MaxUint64 {
		end = []byte{'l', s.shard + 1}
	} else {
		end = s.logKey(max + 1)
	}
	return s.db.db.DeleteRange(s.logKey(min), end, pebble.Sync)
}

// Set implements raft.StableStore.
func (s *shardLogStore) Set(key, val []byte) error {
	return s.db.db.Set(s.stableKey(key), val, pebble.Sync)
}

// Get implements raft.StableStore.
func (s *shardLogStore) Get(key []byte) ([]byte, error) {
	v, closer, err := s.db.db.Get(s.stableKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// SetUint64 implements raft.StableStore.
func (s *shardLogStore) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 implements raft.StableStore.
func (s *shardLogStore) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("raftstore: stable key %q: %d bytes, want 8", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// Close releases the shard's use of the database.
func (s *shardLogStore) Close() error {
	var err error
	s.once.Do(func() { err = s.db.release() })
	return err
}

// encodeLog: term, type, appended-at (Unix ns), then data and extensions
// with uvarint lengths.
func encodeLog(l *raft.Log) []byte {
	b := make([]byte, 0, 8+1+8+2*binary.MaxVarintLen64+len(l.Data)+len(l.Extensions))
	b = binary.BigEndian.AppendUint64(b, l.Term)
	b = append(b, byte(l.Type))
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(at))
	b = binary.AppendUvarint(b, uint64(len(l.Data)))
	b = append(b, l.Data...)
	b = binary.AppendUvarint(b, uint64(len(l.Extensions)))
	return append(b, l.Extensions...)
}

func decodeLog(index uint64, b []byte, out *raft.Log) error {
	bad := fmt.Errorf("raftstore: log %d: corrupt record", index)
	if len(b) < 17 {
		return bad
	}
	out.Index = index
	out.Term = binary.BigEndian.Uint64(b)
	out.Type = raft.LogType(b[8])
	if at := int64(binary.BigEndian.Uint64(b[9:])); at != 0 {
		out.AppendedAt = time.Unix(0, at)
	} else {
		out.AppendedAt = time.Time{}
	}
	b = b[17:]
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return bad
	}
	out.Data = append([]byte(nil), b[k:k+int(n)]...)
	b = b[k+int(n):]
	n, k = binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return bad
	}
	out.Extensions = nil
	if n > 0 {
		out.Extensions = append([]byte(nil), b[k:k+int(n)]...)
	}
	return nil
}

// pebbleLogger sends Pebble's messages to slog.
type pebbleLogger struct{ log *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.log.Debug(fmt.Sprintf(format, args...), "component", "raft-log")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.log.Error(fmt.Sprintf(format, args...), "component", "raft-log")
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.log.Error(fmt.Sprintf(format, args...), "component", "raft-log")
	panic(fmt.Sprintf(format, args...))
}
