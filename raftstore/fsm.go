package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// appliedFSM wraps a shard's FSM to know which log index the FSM has
// really consumed: raft.AppliedIndex counts entries handed to the FSM's
// goroutine, not entries applied, so it cannot back read-your-writes.
//
// It is always a BatchingFSM and forwards exactly what raft would have
// given the inner FSM (commands to Apply or ApplyBatch, configurations to
// ApplyBatch or a ConfigurationStore). Snapshots carry a header with the
// snapshot's log index, so a restore (at start or by InstallSnapshot)
// moves the applied index too.
type appliedFSM struct {
	inner   raft.FSM
	applied atomic.Uint64

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever applied moves
}

func newAppliedFSM(inner raft.FSM) *appliedFSM {
	return &appliedFSM{inner: inner, changed: make(chan struct{})}
}

func (f *appliedFSM) setApplied(index uint64) {
	f.applied.Store(index)
	f.mu.Lock()
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

// wait returns a channel closed at the next change of the applied index.
func (f *appliedFSM) wait() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

func (f *appliedFSM) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

func (f *appliedFSM) ApplyBatch(logs []*raft.Log) []any {
	if len(logs) == 0 {
		return nil
	}
	var resps []any
	if b, ok := f.inner.(raft.BatchingFSM); ok {
		resps = b.ApplyBatch(logs)
	} else {
		resps = make([]any, len(logs))
		cs, _ := f.inner.(raft.ConfigurationStore)
		for i, l := range logs {
			switch l.Type {
			case raft.LogCommand:
				resps[i] = f.inner.Apply(l)
			case raft.LogConfiguration:
				if cs != nil {
					cs.StoreConfiguration(l.Index, raft.DecodeConfiguration(l.Data))
				}
			}
		}
	}
	through := logs[len(logs)-1].Index
	if m, ok := f.inner.(*machineFSM); ok {
		through = m.appliedThrough(logs)
	}
	if through > f.applied.Load() {
		f.setApplied(through)
	}
	return resps
}

// snapshotMagic starts every snapshot this package writes; a snapshot
// without it was not written through appliedFSM and is refused.
const snapshotMagic = "ARS1"

func (f *appliedFSM) Snapshot() (raft.FSMSnapshot, error) {
	s, err := f.inner.Snapshot()
	if err != nil {
		return nil, err
	}
	return &indexedSnapshot{inner: s, applied: f.applied.Load()}, nil
}

func (f *appliedFSM) Restore(rc io.ReadCloser) error {
	var hdr [len(snapshotMagic) + 8]byte
	if _, err := io.ReadFull(rc, hdr[:]); err != nil {
		return fmt.Errorf("raftstore: snapshot header: %w", err)
	}
	if string(hdr[:len(snapshotMagic)]) != snapshotMagic {
		return errors.New("raftstore: snapshot was not written by raftstore")
	}
	index := binary.BigEndian.Uint64(hdr[len(snapshotMagic):])
	if err := f.inner.Restore(rc); err != nil {
		return err
	}
	f.setApplied(index)
	return nil
}

type indexedSnapshot struct {
	inner   raft.FSMSnapshot
	applied uint64 // fallback when the sink does not know its index
}

func (s *indexedSnapshot) Persist(sink raft.SnapshotSink) error {
	index := s.applied
	if is, ok := sink.(*indexedSink); ok {
		index = is.index
	}
	var hdr [len(snapshotMagic) + 8]byte
	copy(hdr[:], snapshotMagic)
	binary.BigEndian.PutUint64(hdr[len(snapshotMagic):], index)
	if _, err := sink.Write(hdr[:]); err != nil {
		sink.Cancel()
		return fmt.Errorf("raftstore: snapshot header: %w", err)
	}
	return s.inner.Persist(sink)
}

func (s *indexedSnapshot) Release() { s.inner.Release() }

// indexedSnapshots tells each sink the log index of the snapshot it
// receives: raft's FSM goroutine counts no-op entries the FSM never sees,
// so only the store knows the snapshot's exact index.
type indexedSnapshots struct{ raft.SnapshotStore }

type indexedSink struct {
	raft.SnapshotSink
	index uint64
}

func (s indexedSnapshots) Create(version raft.SnapshotVersion, index, term uint64, conf raft.Configuration,
	confIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.SnapshotStore.Create(version, index, term, conf, confIndex, trans)
	if err != nil {
		return nil, err
	}
	return &indexedSink{SnapshotSink: sink, index: index}, nil
}
