package engine

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

// shardSnapshot is a shard's part of the engine's state at one log index:
// its guilds' metadata, (for the account shard) users and DM channels,
// the loaded hot rings of its channels and the plans not yet known to be
// in the store. Credentials, tokens and applications are not here: they
// are read from the store, and the ones the store may lack are in Pending.
type shardSnapshot struct {
	// Version is the snapshot format (snapshotVersion when written by this
	// binary; 0 for snapshots of the first releases, which had none).
	Version   int                    `json:"v"`
	Shard     int                    `json:"shard"`
	Applied   uint64                 `json:"applied"`
	Guilds    []*store.GuildSnapshot `json:"guilds"`
	Users     []*model.User          `json:"users,omitempty"`
	DMs       []*model.Channel       `json:"dms,omitempty"`
	Rings     []ringSnapshot         `json:"rings,omitempty"`
	Pending   []pendingPlan          `json:"pending,omitempty"`
	Watermark uint64                 `json:"watermark"`
	LastTS    int64                  `json:"last_ts"`
	Sessions  []SessionRecord        `json:"sessions,omitempty"`
	Presence  *presenceSnapshot      `json:"presence,omitempty"`
	Voice     []guildVoice           `json:"voice,omitempty"`
}

type ringSnapshot struct {
	ChannelID ID               `json:"c"`
	Messages  []*model.Message `json:"m"`
	Complete  bool             `json:"complete"`
}

// SnapshotShard captures the shard's state. It runs on the shard's apply
// goroutine, so the state is at one index; it only copies maps (the
// values are never changed in place), and the returned function encodes
// them later, while applies go on.
func (e *Engine) SnapshotShard(shard int) func(w io.Writer) error {
	snap := &shardSnapshot{Shard: shard}
	// No wait for the store: Raft may drop the log up to this snapshot,
	// and what the store may lack of it is in Pending (the watermark only
	// names durable writes, see persist.go).
	sp := e.shardState(shard)
	sp.mu.Lock()
	snap.Applied, snap.Watermark, snap.LastTS = sp.applied, sp.watermark, sp.lastTS
	snap.Pending = append([]pendingPlan(nil), sp.pending...)
	sp.mu.Unlock()

	channels := map[ID]bool{}
	e.gmu.RLock()
	entries := make([]*entry, 0)
	for gid, en := range e.guilds {
		if e.shardOf(gid) == shard {
			entries = append(entries, en)
		}
	}
	var dms []*entry
	if e.shardOf(AccountKey) == shard {
		for _, en := range e.dms {
			dms = append(dms, en)
		}
	}
	e.gmu.RUnlock()
	for _, en := range entries {
		en.mu.Lock()
		if s := en.state; s != nil && s.Guild != nil {
			gs := &store.GuildSnapshot{Guild: s.Guild}
			for _, c := range s.Channels {
				gs.Channels = append(gs.Channels, c)
				channels[c.ID] = true
			}
			for _, r := range s.Roles {
				gs.Roles = append(gs.Roles, r)
			}
			for _, m := range s.Members {
				gs.Members = append(gs.Members, m)
			}
			for _, b := range s.Bans {
				gs.Bans = append(gs.Bans, b)
			}
			for _, i := range s.Invites {
				gs.Invites = append(gs.Invites, i)
			}
			snap.Guilds = append(snap.Guilds, gs)
			if len(s.Voice) > 0 {
				gv := guildVoice{GuildID: s.Guild.ID, States: map[ID]*VoiceState{}}
				for uid, vs := range s.Voice {
					gv.States[uid] = vs
				}
				snap.Voice = append(snap.Voice, gv)
			}
		}
		en.mu.Unlock()
	}
	for _, en := range dms {
		en.mu.Lock()
		snap.DMs = append(snap.DMs, en.dm)
		channels[en.dm.ID] = true
		en.mu.Unlock()
	}
	var pres map[ID]userPresence
	if e.shardOf(AccountKey) == shard {
		snap.Sessions = e.sessionSnapshot()
		snap.Presence, pres = e.presenceSnapshot()
	}
	if len(dms) > 0 || e.shardOf(AccountKey) == shard {
		e.acct.mu.RLock()
		for _, u := range e.acct.users {
			snap.Users = append(snap.Users, u)
		}
		e.acct.mu.RUnlock()
	}
	e.hot.mu.Lock()
	for cid, r := range e.hot.ch {
		if channels[cid] && r.loaded {
			snap.Rings = append(snap.Rings, ringSnapshot{ChannelID: cid, Messages: r.msgs, Complete: r.complete})
		}
	}
	e.hot.mu.Unlock()
	return func(w io.Writer) error {
		if err := encodeSnapshot(w, snap, pres); err != nil {
			return fmt.Errorf("encode shard %d snapshot: %w", shard, err)
		}
		return nil
	}
}

// encodeSnapshot writes snap as the JSON object RestoreShard decodes,
// one guild, user, ring or session at a time: encoding/json would build
// the whole document in memory first, and the account shard of a busy
// region is tens of megabytes, all of it garbage the moment it is
// written. pres, the presence table's copy, is written in the place of
// snap.Presence.
func encodeSnapshot(w io.Writer, snap *shardSnapshot, pres map[ID]userPresence) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	js := jsonStream{w: bw, enc: json.NewEncoder(bw)}
	js.raw("{")
	js.field("v", snapshotVersion)
	js.field("shard", snap.Shard)
	js.field("applied", snap.Applied)
	js.field("watermark", snap.Watermark)
	js.field("last_ts", snap.LastTS)
	js.field("pending", snap.Pending)
	js.field("dms", snap.DMs)
	js.field("voice", snap.Voice)
	streamArray(&js, "guilds", snap.Guilds)
	streamArray(&js, "users", snap.Users)
	streamArray(&js, "rings", snap.Rings)
	streamArray(&js, "sessions", snap.Sessions)
	if pres != nil {
		js.raw(`,"presence":{"by_user":{`)
		first := true
		for uid, up := range pres {
			if !first {
				js.raw(",")
			}
			first = false
			js.raw(`"` + uid.String() + `":{`)
			for i, np := range up {
				if i > 0 {
					js.raw(",")
				}
				js.value(np.node)
				js.raw(":")
				js.value(np.presenceEntry)
			}
			js.raw("}")
		}
		js.raw(`},"nodes":`)
		js.value(snap.Presence.Nodes)
		if len(snap.Presence.Endpoints) > 0 {
			js.raw(`,"endpoints":`)
			js.value(snap.Presence.Endpoints)
		}
		js.raw("}")
	}
	js.raw("}\n")
	if js.err != nil {
		return js.err
	}
	return bw.Flush()
}

// jsonStream writes a JSON document piece by piece, keeping the first
// error.
type jsonStream struct {
	w *bufio.Writer
	// enc writes each value straight from its pooled buffer into w (and a
	// newline, which JSON allows between tokens): json.Marshal would
	// copy every value into a new slice first.
	enc    *json.Encoder
	err    error
	fields int
}

func (j *jsonStream) raw(s string) {
	if j.err == nil {
		_, j.err = j.w.WriteString(s)
	}
}

func (j *jsonStream) value(v any) {
	if j.err != nil {
		return
	}
	j.err = j.enc.Encode(v)
}

// field writes "name":v, after a comma unless it is the first field.
func (j *jsonStream) field(name string, v any) {
	j.key(name)
	j.value(v)
}

func (j *jsonStream) key(name string) {
	if j.fields > 0 {
		j.raw(",")
	}
	j.fields++
	j.raw(`"` + name + `":`)
}

// streamArray writes "name":[…] one element at a time.
func streamArray[T any](j *jsonStream, name string, items []T) {
	j.key(name)
	j.raw("[")
	for i := range items {
		if i > 0 {
			j.raw(",")
		}
		j.value(items[i])
	}
	j.raw("]")
}

// RestoreShard replaces the shard's state with a snapshot's. Raft calls it
// before applying the entries that follow the snapshot, on start and when
// a lagging replica is sent a snapshot.
func (e *Engine) RestoreShard(shard int, r io.Reader) error {
	var snap shardSnapshot
	if err := json.NewDecoder(r).Decode(&snap); err != nil {
		return fmt.Errorf("decode shard %d snapshot: %w: %v", shard, ErrBadEntry, err)
	}
	// All checks before the first change: a snapshot that cannot be
	// restored leaves the state as it was.
	if err := e.validateSnapshot(shard, &snap); err != nil {
		return fmt.Errorf("shard %d snapshot: %w", shard, err)
	}
	keep := map[ID]bool{}
	for _, gs := range snap.Guilds {
		keep[gs.Guild.ID] = true
	}
	// Drop this shard's guilds the snapshot does not have (deleted).
	e.gmu.RLock()
	var gone []*entry
	for gid, en := range e.guilds {
		if e.shardOf(gid) == shard && !keep[gid] {
			gone = append(gone, en)
		}
	}
	e.gmu.RUnlock()
	for _, en := range gone {
		en.mu.Lock()
		if en.state != nil && en.state.Guild != nil {
			e.applyOp(en, store.Op{Kind: store.OpDeleteGuild, GuildID: en.state.Guild.ID})
		}
		en.mu.Unlock()
	}
	for _, gs := range snap.Guilds {
		st := e.own(FromSnapshot(gs))
		e.gmu.Lock()
		en := e.guilds[gs.Guild.ID]
		if en == nil {
			en = &entry{key: gs.Guild.ID}
			e.guilds[gs.Guild.ID] = en
		}
		e.gmu.Unlock()
		en.mu.Lock()
		if old := en.state; old != nil {
			for uid := range old.Members {
				e.acct.leave(uid, gs.Guild.ID)
			}
			for cid := range old.Channels {
				e.unindexChannel(cid)
			}
		}
		en.state = st
		for uid := range st.Members {
			e.acct.join(uid, gs.Guild.ID)
		}
		for cid, c := range st.Channels {
			e.indexChannel(cid, gs.Guild.ID)
			e.ids.Observe(c.ID)
			e.ids.Observe(c.LastMessageID)
		}
		en.mu.Unlock()
		e.ids.Observe(gs.Guild.ID)
	}
	for _, u := range snap.Users {
		e.acct.putUser(u)
		e.ids.Observe(u.ID)
	}
	if e.shardOf(AccountKey) == shard {
		e.restoreSessions(snap.Sessions)
		e.restorePresence(snap.Presence)
	}
	for _, gv := range snap.Voice {
		if en := e.entry(gv.GuildID); en != nil {
			en.mu.Lock()
			if en.state != nil {
				en.state.Voice = gv.States
			}
			en.mu.Unlock()
		}
	}
	for _, c := range snap.DMs {
		e.applyOps([]store.Op{{Kind: store.OpPutChannel, Channel: c}})
	}
	e.hot.mu.Lock()
	for _, rs := range snap.Rings {
		r := e.hot.ring(rs.ChannelID)
		r.msgs, r.complete, r.loaded = rs.Messages, rs.Complete, true
		r.version++
	}
	e.hot.mu.Unlock()
	sp := e.shardState(shard)
	sp.mu.Lock()
	sp.applied, sp.watermark, sp.lastTS = snap.Applied, snap.Watermark, snap.LastTS
	sp.pending = snap.Pending
	sp.mu.Unlock()
	e.log.Info("shard restored from snapshot", "shard", shard, "index", snap.Applied, "guilds", len(snap.Guilds), "pending", len(snap.Pending))
	return nil
}

// snapshotVersion is the snapshot format this binary writes. Like log
// entries (entry.go), a change older binaries would misread bumps it, and
// a newer snapshot is refused rather than half understood.
const snapshotVersion = 1

// validateSnapshot checks that a decoded snapshot is one this binary
// could have written for the shard: a version it reads, every record
// present and in the shard.
func (e *Engine) validateSnapshot(shard int, snap *shardSnapshot) error {
	switch {
	case snap.Version > snapshotVersion:
		return fmt.Errorf("%w: snapshot version %d, this binary reads up to %d", ErrNewerEntry, snap.Version, snapshotVersion)
	case snap.Version < 0:
		return fmt.Errorf("%w: snapshot version %d", ErrBadEntry, snap.Version)
	case snap.Shard != shard:
		return fmt.Errorf("%w: snapshot of shard %d", ErrBadEntry, snap.Shard)
	}
	for _, gs := range snap.Guilds {
		if gs == nil || gs.Guild == nil || e.shardOf(gs.Guild.ID) != shard {
			return fmt.Errorf("%w: a guild that is missing or not of this shard", ErrBadEntry)
		}
		for _, c := range gs.Channels {
			if c == nil {
				return fmt.Errorf("%w: guild %d: a missing channel", ErrBadEntry, gs.Guild.ID)
			}
		}
		for _, r := range gs.Roles {
			if r == nil {
				return fmt.Errorf("%w: guild %d: a missing role", ErrBadEntry, gs.Guild.ID)
			}
		}
		for _, m := range gs.Members {
			if m == nil {
				return fmt.Errorf("%w: guild %d: a missing member", ErrBadEntry, gs.Guild.ID)
			}
		}
		for _, b := range gs.Bans {
			if b == nil {
				return fmt.Errorf("%w: guild %d: a missing ban", ErrBadEntry, gs.Guild.ID)
			}
		}
		for _, i := range gs.Invites {
			if i == nil {
				return fmt.Errorf("%w: guild %d: a missing invite", ErrBadEntry, gs.Guild.ID)
			}
		}
	}
	for _, u := range snap.Users {
		if u == nil {
			return fmt.Errorf("%w: a missing user", ErrBadEntry)
		}
	}
	for _, c := range snap.DMs {
		if c == nil || c.Type != model.ChannelDM && c.Type != model.ChannelGroupDM {
			return fmt.Errorf("%w: a DM that is missing or not a DM", ErrBadEntry)
		}
	}
	for _, rs := range snap.Rings {
		for _, m := range rs.Messages {
			if m == nil {
				return fmt.Errorf("%w: channel %d: a missing message in its ring", ErrBadEntry, rs.ChannelID)
			}
		}
	}
	for _, gv := range snap.Voice {
		for _, vs := range gv.States {
			if vs == nil {
				return fmt.Errorf("%w: guild %d: a missing voice state", ErrBadEntry, gv.GuildID)
			}
		}
	}
	for _, p := range snap.Pending {
		for _, op := range p.Ops {
			if err := op.Validate(); err != nil {
				return fmt.Errorf("%w: pending plan %d: %v", ErrBadEntry, p.Index, err)
			}
		}
	}
	if snap.Presence != nil && e.shardOf(AccountKey) != shard {
		return fmt.Errorf("%w: presence in a shard that is not the accounts'", ErrBadEntry)
	}
	return nil
}
