package pebblestore

import (
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"

	"github.com/accord-chat/accord/core/store"
)

// errInvalidOp is wrapped by Commit for ops that lack what their kind
// needs; the whole batch is then rejected.
var errInvalidOp = errors.New("invalid op")

// Commit applies the ops of b atomically, as one Pebble batch, and returns
// once the batch is synced to the write-ahead log (unless Options.NoSync).
// If any op is invalid nothing is written.
//
// Commits are not serialized: concurrent calls build their batches in
// parallel and Pebble's commit pipeline groups their syncs into shared
// fsyncs, which is where the write throughput comes from.
//
// Some ops read before they write: PutMessage (unpinned) and DeleteMessage
// read whether the previous version was pinned, to maintain the pin index;
// PutInvite and DeleteInvite read the invite-code index; DeleteChannel
// reads the channel directory; DeleteGuild lists the guild's channels and
// invites. Later ops of a batch see the effects of earlier ones, but the
// reads are not isolated from other Commits running at the same time.
// This relies on the caller serializing writes per guild and per channel,
// as the guild state machine does by applying a guild's batches in log
// order: Commits that touch the same message, invite code or guild must
// not run concurrently. (Concurrent Commits of different new messages of
// one channel are fine; they read and write disjoint keys.) Should two
// racing Commits change the same message anyway, the worst outcome is a
// stale pin-index entry, which ListPins ignores because it checks each
// message's Pinned field.
//
// DeleteChannel and DeleteGuild also drop the messages, reactions and pins
// of the deleted channels, with range deletions.
func (s *Store) Commit(ctx context.Context, b *store.Batch) error {
	wait, err := s.commit(ctx, b, false)
	if err != nil || wait == nil {
		return err
	}
	return wait()
}

// CommitAsync implements store.AsyncCommitter: the batch takes its place
// in the write-ahead log and becomes visible to reads before it returns;
// wait returns once it is durable. Batches become durable in the order
// CommitAsync was called, because Pebble syncs its log in order.
func (s *Store) CommitAsync(ctx context.Context, b *store.Batch) (wait func() error, err error) {
	return s.commit(ctx, b, true)
}

func (s *Store) commit(ctx context.Context, b *store.Batch, async bool) (func() error, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		s.leave()
		return nil, fmt.Errorf("pebblestore: commit: %w", err)
	}
	if b == nil || len(b.Ops) == 0 {
		s.leave()
		return nil, nil
	}

	// A lone op reads only what was committed before it, so the cheaper
	// unindexed batch will do; with several ops a later one may need to
	// read what an earlier one wrote.
	var pb *pebble.Batch
	var r reader = s.db
	if len(b.Ops) == 1 {
		pb = s.db.NewBatch()
	} else {
		pb = s.db.NewIndexedBatch()
		r = pb
	}
	w := writer{b: pb, r: r, enc: getEncoder()}
	defer putEncoder(w.enc)
	fail := func(err error) (func() error, error) {
		pb.Close()
		s.leave()
		return nil, err
	}
	for i := range b.Ops {
		if err := w.apply(&b.Ops[i]); err != nil {
			if len(b.Ops) > 1 {
				return fail(fmt.Errorf("pebblestore: op %d of %d: %w", i, len(b.Ops), err))
			}
			return fail(fmt.Errorf("pebblestore: %w", err))
		}
	}
	if !async || s.wopts != pebble.Sync {
		err := pb.Commit(s.wopts)
		pb.Close()
		s.leave()
		if err != nil {
			return nil, fmt.Errorf("pebblestore: commit %d ops: %w", len(b.Ops), err)
		}
		return nil, nil
	}
	if err := s.db.ApplyNoSyncWait(pb, s.wopts); err != nil {
		return fail(fmt.Errorf("pebblestore: commit %d ops: %w", len(b.Ops), err))
	}
	// The store stays "in use" until the sync is waited for, so Close
	// cannot pull the database out from under a pending sync.
	return func() error {
		defer s.leave()
		err := pb.SyncWait()
		pb.Close()
		if err != nil {
			return fmt.Errorf("pebblestore: sync %d ops: %w", len(b.Ops), err)
		}
		return nil
	}, nil
}

// writer turns ops into batch mutations.
type writer struct {
	b   *pebble.Batch
	r   reader // sees the batch's own writes when the batch is indexed
	enc *encoder
}

func invalid(what string, args ...any) error {
	return fmt.Errorf("%w: %s", errInvalidOp, fmt.Sprintf(what, args...))
}

func (w *writer) apply(op *store.Op) error {
	switch op.Kind {
	case store.OpPutUser:
		u := op.User
		if u == nil || u.ID == 0 {
			return invalid("put user: missing user or user ID")
		}
		return w.putJSON(idKey(tUser, u.ID), u, "put user %d", u.ID)

	case store.OpPutCredentials:
		c := op.Credentials
		if c == nil || c.Login == "" {
			return invalid("put credentials: missing credentials or login")
		}
		return w.putJSON(bytesKey(tCredentials, []byte(c.Login)), c, "put credentials %q", c.Login)

	case store.OpPutToken:
		t := op.Token
		if t == nil || len(t.Hash) == 0 {
			return invalid("put token: missing token or hash")
		}
		return w.putJSON(bytesKey(tToken, t.Hash), t, "put token")

	case store.OpDeleteToken:
		if len(op.Hash) == 0 {
			return invalid("delete token: missing hash")
		}
		return w.del(bytesKey(tToken, op.Hash), "delete token")

	case store.OpPutApplication:
		a := op.Application
		if a == nil || a.ID == 0 {
			return invalid("put application: missing application or ID")
		}
		return w.putJSON(idKey(tApplication, a.ID), a, "put application %d", a.ID)

	case store.OpPutGuild:
		g := op.Guild
		if g == nil || g.ID == 0 {
			return invalid("put guild: missing guild or ID")
		}
		return w.putJSON(guildKey(g.ID, gGuild, 0), g, "put guild %d", g.ID)

	case store.OpDeleteGuild:
		if op.GuildID == 0 {
			return invalid("delete guild: missing guild ID")
		}
		return w.deleteGuild(op.GuildID)

	case store.OpPutChannel:
		return w.putChannel(op.Channel)

	case store.OpDeleteChannel:
		id := op.ChannelID
		if id == 0 {
			id = op.ID
		}
		if id == 0 {
			return invalid("delete channel: missing channel ID")
		}
		return w.deleteChannel(id, op.GuildID)

	case store.OpPutRole:
		r := op.Role
		if r == nil || r.ID == 0 || op.GuildID == 0 {
			return invalid("put role: missing role, role ID or guild ID")
		}
		return w.putJSON(guildIDKey(op.GuildID, gRole, r.ID), r, "put role %d of guild %d", r.ID, op.GuildID)

	case store.OpDeleteRole:
		if op.GuildID == 0 || op.ID == 0 {
			return invalid("delete role: missing guild ID or role ID")
		}
		return w.del(guildIDKey(op.GuildID, gRole, op.ID), "delete role %d of guild %d", op.ID, op.GuildID)

	case store.OpPutMember:
		m := op.Member
		if m == nil {
			return invalid("put member: missing member")
		}
		gid := orID(m.GuildID, op.GuildID)
		if gid == 0 || m.UserID == 0 {
			return invalid("put member: missing guild ID or user ID")
		}
		return w.putJSON(guildIDKey(gid, gMember, m.UserID), m, "put member %d of guild %d", m.UserID, gid)

	case store.OpDeleteMember:
		if op.GuildID == 0 || op.UserID == 0 {
			return invalid("delete member: missing guild ID or user ID")
		}
		return w.del(guildIDKey(op.GuildID, gMember, op.UserID), "delete member %d of guild %d", op.UserID, op.GuildID)

	case store.OpPutBan:
		b := op.Ban
		if b == nil {
			return invalid("put ban: missing ban")
		}
		gid := orID(b.GuildID, op.GuildID)
		if gid == 0 || b.UserID == 0 {
			return invalid("put ban: missing guild ID or user ID")
		}
		return w.putJSON(guildIDKey(gid, gBan, b.UserID), b, "put ban %d of guild %d", b.UserID, gid)

	case store.OpDeleteBan:
		if op.GuildID == 0 || op.UserID == 0 {
			return invalid("delete ban: missing guild ID or user ID")
		}
		return w.del(guildIDKey(op.GuildID, gBan, op.UserID), "delete ban %d of guild %d", op.UserID, op.GuildID)

	case store.OpPutInvite:
		return w.putInvite(op.Invite, op.GuildID)

	case store.OpDeleteInvite:
		if op.Code == "" {
			return invalid("delete invite: missing code")
		}
		return w.deleteInvite(op.Code, op.GuildID)

	case store.OpPutMessage:
		return w.putMessage(op.Message, op.New)

	case store.OpDeleteMessage:
		if op.ChannelID == 0 || op.ID == 0 {
			return invalid("delete message: missing channel ID or message ID")
		}
		return w.deleteMessage(op.ChannelID, op.ID)

	case store.OpPutReaction, store.OpDeleteReaction:
		if op.ChannelID == 0 || op.ID == 0 || op.Emoji == "" || op.UserID == 0 {
			return invalid("%s: missing channel ID, message ID, emoji or user ID", op.Kind)
		}
		k := reactionKey(op.ChannelID, op.ID, op.Emoji, op.UserID)
		if op.Kind == store.OpPutReaction {
			// Setting the same key again is what makes PutReaction idempotent.
			return w.set(k, nil, "put reaction %q of user %d on message %d", op.Emoji, op.UserID, op.ID)
		}
		return w.del(k, "delete reaction %q of user %d on message %d", op.Emoji, op.UserID, op.ID)

	case store.OpDeleteReactions:
		if op.ChannelID == 0 || op.ID == 0 {
			return invalid("delete reactions: missing channel ID or message ID")
		}
		return w.delPrefix(reactionPrefix(op.ChannelID, op.ID, op.Emoji), "delete reactions on message %d", op.ID)

	default:
		return invalid("unknown op kind %d", op.Kind)
	}
}

func orID(a, b store.ID) store.ID {
	if a != 0 {
		return a
	}
	return b
}

func (w *writer) set(k, v []byte, what string, args ...any) error {
	if err := w.b.Set(k, v, nil); err != nil {
		return fmt.Errorf(what+": %w", append(args, err)...)
	}
	return nil
}

func (w *writer) del(k []byte, what string, args ...any) error {
	if err := w.b.Delete(k, nil); err != nil {
		return fmt.Errorf(what+": %w", append(args, err)...)
	}
	return nil
}

func (w *writer) delPrefix(p []byte, what string, args ...any) error {
	if err := w.b.DeleteRange(p, prefixEnd(p), nil); err != nil {
		return fmt.Errorf(what+": %w", append(args, err)...)
	}
	return nil
}

func (w *writer) putJSON(k []byte, v any, what string, args ...any) error {
	data, err := w.enc.encode(v)
	if err != nil {
		return fmt.Errorf(what+": encode: %w", append(args, err)...)
	}
	return w.set(k, data, what, args...)
}
