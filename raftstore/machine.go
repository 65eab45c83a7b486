package raftstore

import (
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/raft"

	sh "github.com/accord-chat/accord/core/shard"
)

// StateMachine is the replicated state of a node's shards, as the domain
// (core/engine) implements it. The Node drives it; this is its contract,
// in the manner of raft.FSM's:
//
//   - ApplyCommitted applies a shard's committed entries in log order. It
//     is called on the shard's apply goroutine, one per shard (raft's FSM
//     goroutine), which also calls SnapshotShard and RestoreShard: entries
//     of one shard are never applied concurrently, while shards apply in
//     parallel. It must be deterministic (a function of the state and the
//     entries: no clock, no randomness, no I/O whose result it depends
//     on), because every node applies every entry and all must agree; and
//     it must not wait (on I/O, on a lock a request holds, on another
//     shard), because the shard applies nothing else meanwhile. It reports
//     how many entries it applied. An error means it cannot apply
//     entries[applied] (an unknown kind, a newer format): the shard then
//     stops applying (fail-stop: the node reports itself unhealthy, see
//     Node.Health, rather than skip an entry and diverge from the others),
//     and the error answers every proposal still waiting on the shard.
//   - SnapshotShard captures the shard's state on the apply goroutine and
//     returns a function that writes it; the function runs on another
//     goroutine, concurrently with later applies, so the capture is cheap
//     and the write does the work.
//   - RestoreShard replaces the shard's state with a snapshot's, on the
//     apply goroutine.
//   - LeadershipChanged says this node gained or lost the shard's
//     leadership. It runs on the shard's watcher goroutine, never on the
//     apply goroutine, in order for each shard; a slow call delays only
//     later notices of the same shard.
type StateMachine interface {
	ApplyCommitted(shard int, entries []sh.Entry) (applied int, err error)
	SnapshotShard(shard int) (write func(io.Writer) error)
	RestoreShard(shard int, r io.Reader) error
	LeadershipChanged(shard int, leader bool)
}

// ErrHalted is wrapped by the errors of a shard that stopped applying.
var ErrHalted = errors.New("raftstore: shard halted")

// HaltError says why a shard stopped applying: the entry at Index could
// not be applied.
type HaltError struct {
	Shard int
	Index uint64
	Err   error
}

func (e *HaltError) Error() string {
	return fmt.Sprintf("raftstore: shard %d halted at index %d: %v", e.Shard, e.Index, e.Err)
}

func (e *HaltError) Unwrap() []error { return []error{ErrHalted, e.Err} }

// machineFSM is a StateMachine's shard as a raft.FSM (and BatchingFSM).
type machineFSM struct {
	m      StateMachine
	shard  int
	halted func(*HaltError) // called once, on the apply goroutine
	halt   *HaltError       // set on the apply goroutine only
}

func (f *machineFSM) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch hands the batch's commands to the machine. Its responses are
// nil for applied entries, the halt for the rest; appliedFSM reads
// appliedThrough to know how far the machine got.
func (f *machineFSM) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	if f.halt != nil {
		for i := range out {
			out[i] = f.halt
		}
		return out
	}
	entries := make([]sh.Entry, 0, len(logs))
	pos := make([]int, 0, len(logs)) // index into logs of each entry
	for i, l := range logs {
		if l.Type == raft.LogCommand {
			entries = append(entries, sh.Entry{Index: l.Index, Data: l.Data})
			pos = append(pos, i)
		}
	}
	if len(entries) == 0 {
		return out
	}
	n, err := f.m.ApplyCommitted(f.shard, entries)
	if err == nil {
		return out
	}
	if n < 0 || n >= len(entries) {
		n = len(entries) - 1 // a machine that miscounts stops at its last entry
	}
	f.halt = &HaltError{Shard: f.shard, Index: entries[n].Index, Err: err}
	for i := pos[n]; i < len(logs); i++ {
		out[i] = f.halt
	}
	if f.halted != nil {
		f.halted(f.halt)
	}
	return out
}

// appliedThrough is the index of the last log of logs the machine has
// applied (or that needed nothing of it), 0 when none.
func (f *machineFSM) appliedThrough(logs []*raft.Log) uint64 {
	if f.halt == nil {
		return logs[len(logs)-1].Index
	}
	var last uint64
	for _, l := range logs {
		if l.Index >= f.halt.Index {
			break
		}
		last = l.Index
	}
	return last
}

// Snapshot refuses while halted: a snapshot would record the entries the
// machine did not apply as applied, and Raft would then drop them from
// the log; kept, a fixed binary applies them after a restart.
func (f *machineFSM) Snapshot() (raft.FSMSnapshot, error) {
	if f.halt != nil {
		return nil, f.halt
	}
	return &machineSnapshot{write: f.m.SnapshotShard(f.shard)}, nil
}

func (f *machineFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.m.RestoreShard(f.shard, rc); err != nil {
		return fmt.Errorf("restore shard %d: %w", f.shard, err)
	}
	f.halt = nil
	return nil
}

type machineSnapshot struct{ write func(io.Writer) error }

func (s *machineSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		return errors.Join(err, sink.Cancel())
	}
	return sink.Close()
}

func (s *machineSnapshot) Release() {}
