package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
)

// Event is something that happened, for the gateway to dispatch. Data is a
// model value (or a small struct of them); rendering happens at the edge of
// the system, per recipient.
type Event struct {
	Type      string
	GuildID   ID
	ChannelID ID
	// UserIDs, when set, limits the event to these users (DMs, USER_UPDATE).
	UserIDs []ID
	Data    any
	// Shard and Index place a replicated event in its shard's log (Index
	// 0: not replicated). Every replica publishes the same events at the
	// same positions, which is what lets a session resume on any node.
	Shard int
	Index uint64
}

// Publisher receives the events of committed entries, in log order per
// shard, from one goroutine of the shard at a time, with the engine's
// state as the entry left it (see the package doc and fanout.go).
type Publisher interface {
	Publish(events []Event)
}

// Config configures an Engine.
type Config struct {
	Store  store.Store
	IDs    *snowflake.Generator
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Publisher gets every event; none when nil.
	Publisher Publisher
	// Shards is the number of shards of the region (required); it must
	// match the Replicator's.
	Shards int
	// Replicator orders the engine's writes (see replica.go). It may also
	// be given later with Attach, since the replication that drives the
	// engine is usually built around it; until then the engine leads no
	// shard and proposes nothing.
	Replicator Replicator
}

// Engine is the sequencer of every guild on this node and the directory of
// accounts. All writes go through it.
type Engine struct {
	st     store.Store
	async  store.AsyncCommitter // nil when the store cannot pipeline
	ids    *snowflake.Generator
	log    *slog.Logger
	now    func() time.Time
	pubMu  sync.RWMutex
	pub    Publisher
	gmu    sync.RWMutex
	guilds map[ID]*entry
	dms    map[ID]*entry // DM channels are sequenced on their own

	chmu      sync.RWMutex
	chanGuild map[ID]ID // guild channel → guild

	acct   accounts
	nonces nonceCache
	hot    hotCache

	rep      *attached
	sessions sessionTable
	presence presenceTable
	shmu     sync.Mutex
	shards   map[int]*shardPersist
	// persisters write each shard's committed plans (persist.go).
	persisters []*persister
	// fanouts publish each shard's message events (fanout.go).
	fanouts   []*fanout
	closeOnce sync.Once
}

// entry is one sequencer: a guild or a DM channel.
type entry struct {
	key   ID // shard key: the guild's ID, AccountKey for DMs
	mu    sync.Mutex
	state *State         // guilds
	dm    *model.Channel // DMs

	// Entries proposed and not yet applied here, and a channel closed
	// when that drops to zero.
	inflight int
	drained  chan struct{}
	// version counts the applied entries that may change what a plan
	// read from the store (all but new messages; reads.go).
	version uint64
}

// New builds an Engine. Call Load before serving.
func New(cfg Config) *Engine {
	e := &Engine{
		st:     cfg.Store,
		ids:    cfg.IDs,
		log:    cfg.Logger,
		now:    cfg.Now,
		pub:    cfg.Publisher,
		shards: map[int]*shardPersist{},
		guilds: map[ID]*entry{},
		dms:    map[ID]*entry{},

		chanGuild: map[ID]ID{},
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.ids == nil {
		e.ids = snowflake.NewGenerator(0, 0)
	}
	e.async, _ = cfg.Store.(store.AsyncCommitter)
	if cfg.Shards <= 0 {
		panic("engine: Config.Shards must be positive")
	}
	e.rep = &attached{shards: cfg.Shards}
	for s := range cfg.Shards {
		e.persisters = append(e.persisters, newPersister(e, s))
		e.fanouts = append(e.fanouts, newFanout(e))
	}
	if cfg.Replicator != nil {
		e.Attach(cfg.Replicator)
	}
	e.acct.init()
	return e
}

// ErrClosed is returned by reads waiting on an engine that was closed.
var ErrClosed = errors.New("engine: closed")

// Close stops the engine's goroutines: store writes not yet made are left
// to the Raft log (the next leader, or this node after a restart, makes
// them). Call it after the replication that drives the engine stopped.
func (e *Engine) Close() {
	e.closeOnce.Do(func() {
		for _, p := range e.persisters {
			p.close()
		}
		for _, f := range e.fanouts {
			f.close()
		}
	})
}

// SetPublisher replaces the event publisher (the gateway attaches itself
// after the engine is built).
func (e *Engine) SetPublisher(p Publisher) {
	e.pubMu.Lock()
	e.pub = p
	e.pubMu.Unlock()
}

// Store exposes the store for reads the engine does not wrap (history).
func (e *Engine) Store() store.Store { return e.st }

// Now is the engine's clock.
func (e *Engine) Now() time.Time { return e.now().UTC() }

// NewID returns a fresh snowflake.
func (e *Engine) NewID() ID { return e.ids.Next() }

// Load reads every account and guild from the store into memory and moves
// the ID generator past every ID it sees, so a restarted node never reuses
// one.
func (e *Engine) Load(ctx context.Context) error {
	n := 0
	if err := e.st.ForEachUser(ctx, func(u *model.User) error {
		e.acct.putUser(u)
		e.ids.Observe(u.ID)
		n++
		return nil
	}); err != nil {
		return fmt.Errorf("load users: %w", err)
	}
	if err := e.st.ForEachDM(ctx, func(c *model.Channel) error {
		last, err := e.st.LatestMessageID(ctx, c.ID)
		if err != nil {
			return err
		}
		c.LastMessageID = last
		e.ids.Observe(last)
		e.ids.Observe(c.ID)
		e.dms[c.ID] = &entry{key: AccountKey, dm: c}
		e.acct.putDM(c)
		return nil
	}); err != nil {
		return fmt.Errorf("load dms: %w", err)
	}
	g := 0
	if err := e.st.ForEachGuild(ctx, func(s *store.GuildSnapshot) error {
		st := e.own(FromSnapshot(s))
		e.ids.Observe(st.Guild.ID)
		for _, c := range st.Channels {
			last, err := e.st.LatestMessageID(ctx, c.ID)
			if err != nil {
				return err
			}
			c.LastMessageID = last
			e.ids.Observe(last)
			e.ids.Observe(c.ID)
			e.indexChannel(c.ID, st.Guild.ID)
		}
		for _, r := range st.Roles {
			e.ids.Observe(r.ID)
		}
		e.guilds[st.Guild.ID] = &entry{key: st.Guild.ID, state: st}
		for uid := range st.Members {
			e.acct.join(uid, st.Guild.ID)
		}
		g++
		return nil
	}); err != nil {
		return fmt.Errorf("load guilds: %w", err)
	}
	e.log.Debug("state loaded", "users", n, "guilds", g, "dms", len(e.dms))
	return nil
}

// plan is what a command produces: the ops to commit and the events to
// publish once they are durable.
type plan struct {
	batch  store.Batch
	events []Event
}

func (p *plan) op(op store.Op) { p.batch.Add(op) }
func (p *plan) emit(ev Event)  { p.events = append(p.events, ev) }
func (p *plan) empty() bool    { return p.batch.Len() == 0 }

// withGuild runs fn against the guild's state under its sequencer lock,
// commits the plan fn returns, applies it to the state and publishes its
// events. fn must not change the state itself.
func (e *Engine) withGuild(ctx context.Context, guildID ID, fn func(s *State) (*plan, error)) error {
	en := e.entry(guildID)
	if en == nil {
		return apierr.ErrUnknownGuild
	}
	return e.sequence(ctx, en, func() (*plan, error) {
		if en.state == nil { // deleted while we waited for the lock
			return nil, apierr.ErrUnknownGuild
		}
		return fn(en.state)
	})
}

// readGuild runs fn against the guild's state under its lock, for reads.
func (e *Engine) readGuild(guildID ID, fn func(s *State) error) error {
	en := e.entry(guildID)
	if en == nil {
		return apierr.ErrUnknownGuild
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	if en.state == nil {
		return apierr.ErrUnknownGuild
	}
	return fn(en.state)
}

func (e *Engine) entry(guildID ID) *entry {
	e.gmu.RLock()
	defer e.gmu.RUnlock()
	return e.guilds[guildID]
}

// sequence is the single write path: evaluate under the entry's lock on
// the shard's leader, propose the plan, wait for it to be applied here
// (see sequenceReplicated).
func (e *Engine) sequence(ctx context.Context, en *entry, fn func() (*plan, error)) error {
	return e.sequenceReplicated(ctx, en, nil, fn)
}

func (e *Engine) publish(events []Event) {
	if len(events) == 0 {
		return
	}
	e.pubMu.RLock()
	p := e.pub
	e.pubMu.RUnlock()
	if p != nil {
		p.Publish(events)
	}
}

// applyOp applies a committed op to memory: the entry's guild state and the
// node-wide indexes.
func (e *Engine) applyOp(en *entry, op store.Op) {
	if en != nil && en.state != nil {
		en.state.Apply(op)
	}
	e.hot.apply(op)
	switch op.Kind {
	case store.OpPutUser, store.OpPutCredentials, store.OpPutToken, store.OpDeleteToken, store.OpPutApplication:
		e.acct.apply(op)
	case store.OpPutMember:
		e.acct.join(op.Member.UserID, op.Member.GuildID)
	case store.OpDeleteMember:
		e.acct.leave(op.UserID, op.GuildID)
	case store.OpDeleteChannel:
		e.unindexChannel(op.ID)
	case store.OpPutChannel:
		if op.Channel.GuildID != 0 {
			e.indexChannel(op.Channel.ID, op.Channel.GuildID)
		}
		if op.Channel.Type == model.ChannelDM {
			e.acct.putDM(op.Channel)
			if en != nil && en.dm != nil {
				en.dm = op.Channel
			}
		}
	case store.OpPutMessage:
		if en != nil && en.dm != nil && op.Message.ID > en.dm.LastMessageID {
			c := *en.dm
			c.LastMessageID = op.Message.ID
			en.dm = &c
		}
	case store.OpDeleteGuild:
		if en != nil && en.state != nil {
			for uid := range en.state.Members {
				e.acct.leave(uid, op.GuildID)
			}
			for cid := range en.state.Channels {
				e.unindexChannel(cid)
			}
			en.state = nil
		}
		e.gmu.Lock()
		delete(e.guilds, op.GuildID)
		e.gmu.Unlock()
	}
}

// commitGlobal replicates a batch that belongs to no guild (accounts),
// under the accounts lock.
func (e *Engine) commitGlobal(_ context.Context, p *plan) error {
	return e.proposeGlobal(p)
}

// notFound maps store.ErrNotFound to the given API error.
func notFound(err error, apiErr *apierr.Error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apiErr
	}
	return err
}

func trimmedLen(s string) int { return len([]rune(strings.TrimSpace(s))) }

func (e *Engine) indexChannel(channelID, guildID ID) {
	e.chmu.Lock()
	e.chanGuild[channelID] = guildID
	e.chmu.Unlock()
}

func (e *Engine) unindexChannel(channelID ID) {
	e.chmu.Lock()
	delete(e.chanGuild, channelID)
	e.chmu.Unlock()
}

// ChannelGuild returns the guild of a guild channel, 0 for DMs and unknown
// channels.
func (e *Engine) ChannelGuild(channelID ID) ID {
	e.chmu.RLock()
	defer e.chmu.RUnlock()
	return e.chanGuild[channelID]
}
