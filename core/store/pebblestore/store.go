package pebblestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"

	"github.com/accord-chat/accord/core/store"
)

// Options configures Open.
type Options struct {
	// Dir is the directory of the database; it is created if missing.
	Dir string
	// Logger receives Pebble's own messages and background errors.
	// Nil means slog.Default().
	Logger *slog.Logger
	// NoSync makes Commit return before the write reaches stable storage.
	// A crash of the machine may then lose recent commits. For tests and
	// benchmarks only.
	NoSync bool
	// CacheSize is the block cache size in bytes; 0 means 128 MiB.
	CacheSize int64
}

const defaultCacheSize = 128 << 20

// Store is the Pebble backend of store.Store. It is safe for concurrent
// use.
type Store struct {
	db     *pebble.DB
	log    *slog.Logger
	wopts  *pebble.WriteOptions
	dir    string
	closed atomic.Bool
	// inflight counts calls that are using db, so that Close can wait for
	// them: Pebble panics when a closed DB or an open iterator is used.
	inflight atomic.Int64
	drained  chan struct{}
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the database in opts.Dir.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("pebblestore: open: Options.Dir is empty")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "pebblestore")
	size := opts.CacheSize
	if size <= 0 {
		size = defaultCacheSize
	}
	cache := pebble.NewCache(size)
	defer cache.Unref() // the DB holds its own reference

	db, err := pebble.Open(opts.Dir, pebbleOptions(cache, log))
	if err != nil {
		return nil, fmt.Errorf("pebblestore: open %s: %w", opts.Dir, err)
	}
	s := &Store{
		db:      db,
		log:     log,
		wopts:   pebble.Sync,
		dir:     opts.Dir,
		drained: make(chan struct{}, 1),
	}
	if opts.NoSync {
		s.wopts = pebble.NoSync
	}
	return s, nil
}

func pebbleOptions(cache *pebble.Cache, log *slog.Logger) *pebble.Options {
	o := &pebble.Options{
		Cache:  cache,
		Logger: pebbleLogger{log},
		// Larger memtables absorb bursts of message creates and make
		// fewer, larger L0 files.
		MemTableSize:                64 << 20,
		MemTableStopWritesThreshold: 4,
		// CockroachDB's settings: compact L0 early, stall writes late.
		L0CompactionThreshold: 2,
		L0StopWritesThreshold: 1000,
		LBaseMaxBytes:         64 << 20,
		MaxConcurrentCompactions: func() int {
			return max(1, min(4, runtime.GOMAXPROCS(0)/2))
		},
		FormatMajorVersion: pebble.FormatNewest,
		EventListener: &pebble.EventListener{
			BackgroundError: func(err error) {
				log.Error("background error", "err", err)
			},
			WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
				log.Warn("write stall", "reason", info.Reason)
			},
			WriteStallEnd: func() { log.Info("write stall ended") },
			DiskSlow: func(info pebble.DiskSlowInfo) {
				log.Warn("slow disk", "path", info.Path, "duration", info.Duration)
			},
		},
	}
	// Bloom filters make the point reads of Commit (does the message exist,
	// was it pinned) cheap: most PutMessages create a new message, and the
	// filter answers "no" without reading a data block.
	o.Levels = make([]pebble.LevelOptions, 7)
	for i := range o.Levels {
		l := &o.Levels[i]
		l.BlockSize = 32 << 10
		l.IndexBlockSize = 256 << 10
		l.FilterPolicy = bloom.FilterPolicy(10)
		l.FilterType = pebble.TableFilter
		if i > 0 {
			l.TargetFileSize = o.Levels[i-1].TargetFileSize * 2
		} else {
			l.TargetFileSize = 4 << 20
		}
	}
	return o.EnsureDefaults()
}

// Close waits for calls in progress, then closes the database. Calls made
// after Close return store.ErrClosed; a second Close returns nil. Close
// must not be called from inside a ForEach callback, which it would wait
// for.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	for s.inflight.Load() != 0 {
		<-s.drained
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("pebblestore: close %s: %w", s.dir, err)
	}
	return nil
}

// enter registers a call that uses db; every successful enter must be
// paired with leave.
func (s *Store) enter() error {
	s.inflight.Add(1)
	if s.closed.Load() {
		s.leave()
		return store.ErrClosed
	}
	return nil
}

func (s *Store) leave() {
	if s.inflight.Add(-1) == 0 && s.closed.Load() {
		select {
		case s.drained <- struct{}{}:
		default: // Close has a wake-up pending already
		}
	}
}

// reader is what reads need from the DB; an indexed batch provides the
// same, which lets Commit see the effect of the batch's earlier ops.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

// getValue calls fn with the value of key. It returns store.ErrNotFound
// when there is none. The value is only valid during fn.
func getValue(r reader, key []byte, fn func(v []byte) error) error {
	v, closer, err := r.Get(key)
	if err != nil {
		if errors.Is(err, pebble.ErrNotFound) {
			return store.ErrNotFound
		}
		return err
	}
	defer closer.Close()
	return fn(v)
}

// getJSON reads and decodes the JSON value of key.
func getJSON[T any](s *Store, key []byte) (*T, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var x *T
	err := getValue(s.db, key, func(v []byte) (err error) {
		x, err = decode[T](v)
		return err
	})
	return x, err
}

// scan calls fn for every key with the given prefix, in key order. The key
// and value are only valid during fn.
func scan(r reader, prefix []byte, fn func(k, v []byte) error) error {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		if err := fn(it.Key(), v); err != nil {
			it.Close()
			return err
		}
	}
	return it.Close() // reports the iterator's error, if any
}

// pebbleLogger routes Pebble's logging to slog. Pebble's Infof is its
// housekeeping (WAL replays at open, compactions), at Debug here so that
// a healthy start says only where Accord listens.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprintf(format, args...))
	}
}

// Fatalf is called by Pebble on unrecoverable internal errors and must not
// return; panicking instead of exiting lets the process log and unwind.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error("fatal", "msg", msg)
	panic("pebblestore: " + msg)
}
