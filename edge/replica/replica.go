package replica

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/raftstore"
)

// Shards is what the replica needs from the node's Raft groups
// (raftstore.Node provides it; tests use bare raft.Raft instances).
type Shards interface {
	Shards() int
	Raft(shard int) *raft.Raft
}

// Replica connects an engine to its shards. Build it, give it to the
// engine as its Replicator, give FSM to the Raft groups, then Attach.
type Replica struct {
	log    *slog.Logger
	eng    *engine.Engine
	shards Shards
	n      int

	queues []*queue
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

// New makes a replica for a region of n shards.
func New(n int, log *slog.Logger) *Replica {
	if log == nil {
		log = slog.Default()
	}
	r := &Replica{log: log, n: n, stop: make(chan struct{})}
	for i := 0; i < n; i++ {
		r.queues = append(r.queues, &queue{signal: make(chan struct{}, 1)})
	}
	return r
}

// SetEngine names the engine whose state the FSMs hold.
func (r *Replica) SetEngine(e *engine.Engine) { r.eng = e }

// FSM is the state machine of one shard.
func (r *Replica) FSM(shard int) raft.FSM { return &fsm{r: r, shard: shard} }

// Attach starts proposing to the shards' Raft groups and watching their
// leadership. Call once the groups exist.
func (r *Replica) Attach(s Shards) {
	r.shards = s
	if st, ok := s.(Streams); ok {
		r.wg.Add(1)
		go r.serveForwarded(st.Listen(kindPropose))
	}
	for i := 0; i < r.n; i++ {
		rf := s.Raft(i)
		r.wg.Add(2)
		go r.propose(i, rf)
		go r.watch(i, rf)
	}
}

// Close stops the proposer and watcher goroutines; call it before the
// Raft groups shut down. Waiting proposals fail.
func (r *Replica) Close() {
	r.once.Do(func() { close(r.stop) })
	r.wg.Wait()
	for _, q := range r.queues {
		q.mu.Lock()
		items := q.items
		q.items, q.closed = nil, true
		q.mu.Unlock()
		for _, it := range items {
			it.fail(raft.ErrRaftShutdown)
		}
	}
}

// ShardOf implements engine.Replicator.
func (r *Replica) ShardOf(key engine.ID) int { return raftstore.ShardOf(uint64(key), r.n) }

// Leader implements engine.Replicator.
func (r *Replica) Leader(shard int) (bool, string) {
	if r.shards == nil {
		return false, ""
	}
	rf := r.shards.Raft(shard)
	if rf.State() == raft.Leader {
		return true, ""
	}
	addr, _ := rf.LeaderWithID()
	return false, string(addr)
}

// Propose implements engine.Replicator: the entry joins the shard's queue,
// whose goroutine hands entries to Raft in queue order. Raft's Apply can
// block while its pipeline is full, and the caller holds a lock that
// applying takes, so the caller never calls it itself.
func (r *Replica) Propose(shard int, data []byte) func() error {
	it := &item{data: data, done: make(chan struct{}), stop: r.stop}
	q := r.queues[shard]
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return func() error { return raft.ErrRaftShutdown }
	}
	q.items = append(q.items, it)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
	return it.wait
}

type item struct {
	data []byte
	done chan struct{}
	stop chan struct{}
	fut  raft.ApplyFuture
	err  error
}

func (it *item) fail(err error) {
	it.err = err
	close(it.done)
}

func (it *item) wait() error {
	<-it.done
	if it.err != nil {
		return it.err
	}
	// Raft never answers an Apply still queued when it shuts down, so
	// the wait must also end when the replica closes.
	res := make(chan error, 1)
	go func() { res <- it.fut.Error() }()
	select {
	case err := <-res:
		if err != nil {
			return err
		}
	case <-it.stop:
		return raft.ErrRaftShutdown
	}
	if err, ok := it.fut.Response().(error); ok && err != nil {
		return err
	}
	return nil
}

type queue struct {
	mu     sync.Mutex
	items  []*item
	closed bool
	signal chan struct{}
}

func (r *Replica) propose(shard int, rf *raft.Raft) {
	defer r.wg.Done()
	q := r.queues[shard]
	for {
		select {
		case <-r.stop:
			return
		case <-q.signal:
		}
		for {
			q.mu.Lock()
			items := q.items
			q.items = nil
			q.mu.Unlock()
			if len(items) == 0 {
				break
			}
			for _, it := range items {
				it.fut = rf.Apply(it.data, 0)
				close(it.done)
			}
		}
	}
}

// watch tells the engine about leadership changes of one shard.
func (r *Replica) watch(shard int, rf *raft.Raft) {
	defer r.wg.Done()
	ch := make(chan raft.Observation, 8)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	rf.RegisterObserver(obs)
	defer rf.DeregisterObserver(obs)
	was := false
	check := func() {
		is := rf.State() == raft.Leader
		if is != was {
			was = is
			r.eng.LeadershipChanged(shard, is)
		}
	}
	check()
	for {
		select {
		case <-r.stop:
			return
		case <-ch:
			check()
		}
	}
}

type fsm struct {
	r     *Replica
	shard int
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch implements raft.BatchingFSM: one store write for the batch.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	cs := make([]engine.Committed, 0, len(logs))
	for _, l := range logs {
		if l.Type == raft.LogCommand {
			cs = append(cs, engine.Committed{Index: l.Index, Data: l.Data})
		}
	}
	if len(cs) > 0 {
		if err := f.r.eng.ApplyCommitted(f.shard, cs); err != nil {
			for i := range out {
				out[i] = err
			}
		}
	}
	return out
}

// Snapshot implements raft.FSM.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &snapshot{write: f.r.eng.SnapshotShard(f.shard)}, nil
}

// Restore implements raft.FSM.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.r.eng.RestoreShard(f.shard, rc); err != nil {
		return fmt.Errorf("restore shard %d: %w", f.shard, err)
	}
	return nil
}

type snapshot struct{ write func(io.Writer) error }

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		return errors.Join(err, sink.Cancel())
	}
	return sink.Close()
}

func (s *snapshot) Release() {}
