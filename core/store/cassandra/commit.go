package cassandra

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gocql/gocql"

	"github.com/accord-chat/accord/core/store"
)

const (
	qPutUser        = `INSERT INTO users (user_id, data) VALUES (?, ?) USING TIMESTAMP ?`
	qPutCredentials = `INSERT INTO credentials (login, data) VALUES (?, ?) USING TIMESTAMP ?`
	qPutToken       = `INSERT INTO tokens (hash, data) VALUES (?, ?) USING TIMESTAMP ?`
	qDeleteToken    = `DELETE FROM tokens USING TIMESTAMP ? WHERE hash = ?`
	qPutApplication = `INSERT INTO applications (application_id, data) VALUES (?, ?) USING TIMESTAMP ?`
	qPutDM          = `INSERT INTO dm_channels (channel_id, data) VALUES (?, ?) USING TIMESTAMP ?`
	qDeleteDM       = `DELETE FROM dm_channels USING TIMESTAMP ? WHERE channel_id = ?`

	qPutGuild          = `INSERT INTO guilds (guild_id, data) VALUES (?, ?) USING TIMESTAMP ?`
	qPutGuildChannel   = `INSERT INTO guild_channels (guild_id, channel_id, data) VALUES (?, ?, ?) USING TIMESTAMP ?`
	qDelGuildChannel   = `DELETE FROM guild_channels USING TIMESTAMP ? WHERE guild_id = ? AND channel_id = ?`
	qPutRole           = `INSERT INTO guild_roles (guild_id, role_id, data) VALUES (?, ?, ?) USING TIMESTAMP ?`
	qDelRole           = `DELETE FROM guild_roles USING TIMESTAMP ? WHERE guild_id = ? AND role_id = ?`
	qPutMember         = `INSERT INTO guild_members (guild_id, user_id, data) VALUES (?, ?, ?) USING TIMESTAMP ?`
	qDelMember         = `DELETE FROM guild_members USING TIMESTAMP ? WHERE guild_id = ? AND user_id = ?`
	qPutBan            = `INSERT INTO guild_bans (guild_id, user_id, data) VALUES (?, ?, ?) USING TIMESTAMP ?`
	qDelBan            = `DELETE FROM guild_bans USING TIMESTAMP ? WHERE guild_id = ? AND user_id = ?`
	qPutGuildInvite    = `INSERT INTO guild_invites (guild_id, code, data) VALUES (?, ?, ?) USING TIMESTAMP ?`
	qDelGuildInvite    = `DELETE FROM guild_invites USING TIMESTAMP ? WHERE guild_id = ? AND code = ?`
	qPutInvite         = `INSERT INTO invites (code, guild_id, data) VALUES (?, ?, ?) USING TIMESTAMP ?`
	qDelInvite         = `DELETE FROM invites USING TIMESTAMP ? WHERE code = ?`
	qInviteGuild       = `SELECT guild_id FROM invites WHERE code = ?`
	qGuildInviteCodes  = `SELECT code FROM guild_invites WHERE guild_id = ?`
	qDelGuild          = `DELETE FROM guilds USING TIMESTAMP ? WHERE guild_id = ?`
	qDelGuildChannels  = `DELETE FROM guild_channels USING TIMESTAMP ? WHERE guild_id = ?`
	qDelGuildRoles     = `DELETE FROM guild_roles USING TIMESTAMP ? WHERE guild_id = ?`
	qDelGuildMembers   = `DELETE FROM guild_members USING TIMESTAMP ? WHERE guild_id = ?`
	qDelGuildBans      = `DELETE FROM guild_bans USING TIMESTAMP ? WHERE guild_id = ?`
	qDelGuildInvites   = `DELETE FROM guild_invites USING TIMESTAMP ? WHERE guild_id = ?`
	qInsertMessage     = `INSERT INTO messages (channel_id, bucket, ` + messageCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`
	qDeleteMessage     = `DELETE FROM messages USING TIMESTAMP ? WHERE channel_id = ? AND bucket = ? AND message_id = ?`
	qPutBucket         = `INSERT INTO channel_buckets (channel_id, bucket) VALUES (?, ?) USING TIMESTAMP ?`
	qPutPin            = `INSERT INTO pins (channel_id, message_id, bucket) VALUES (?, ?, ?) USING TIMESTAMP ?`
	qDeletePin         = `DELETE FROM pins USING TIMESTAMP ? WHERE channel_id = ? AND message_id = ?`
	qPutReaction       = `INSERT INTO reactions (channel_id, message_id, emoji, user_id) VALUES (?, ?, ?, ?) USING TIMESTAMP ?`
	qDeleteReaction    = `DELETE FROM reactions USING TIMESTAMP ? WHERE channel_id = ? AND message_id = ? AND emoji = ? AND user_id = ?`
	qDeleteEmoji       = `DELETE FROM reactions USING TIMESTAMP ? WHERE channel_id = ? AND message_id = ? AND emoji = ?`
	qDeleteAllReaction = `DELETE FROM reactions USING TIMESTAMP ? WHERE channel_id = ? AND message_id = ?`
)

// maxBatchBytes keeps a logged batch under Cassandra's default
// batch_size_fail_threshold (50 KiB), which counts the mutations' data.
const maxBatchBytes = 32 << 10

// errInvalidOp is wrapped by Commit for ops that lack what their kind
// needs; the whole batch is then rejected.
var errInvalidOp = errors.New("invalid op")

// Commit applies the ops of b. Every op is checked before anything is
// written, so an invalid op rejects the batch whole.
//
// Ordering: op i of the batch writes with timestamp base+i, base coming
// from a clock that increases strictly within the process. Cassandra
// resolves conflicts by timestamp, so a later op wins over an earlier one
// of the same batch (a put after a delete, a delete after a put: with
// equal timestamps the delete would win), and a later Commit over an
// earlier one, whatever order the statements reach the replicas in.
//
// Atomicity: statements that all touch one partition go as one UNLOGGED
// batch (a single statement alone), which Cassandra applies atomically and
// in isolation; this is the common message create, one row in one
// partition. Statements over several partitions, e.g. guild metadata or a
// message with its reaction, go as a LOGGED batch: once any of it is
// applied all of it will be, as the batchlog replays it if the coordinator
// fails midway (readers of other partitions may see part of it for a
// moment: Cassandra has no isolation across partitions). A batch larger
// than maxBatchBytes (bulk imports; the guild sequencer's batches are a
// few ops) is cut into several logged batches that are each atomic; the
// whole is not.
//
// Reads: PutInvite and DeleteInvite read which guild holds the code, and
// DeleteGuild lists the guild's invite codes; earlier ops of the batch are
// taken into account. As with the embedded store, the caller serializes
// the Commits of one guild or DM channel.
//
// DeleteChannel and DeleteGuild leave the channels' messages in place
// (the contract allows it): finding a channel's reactions would mean
// reading every message. Snowflake channel IDs are never reused.
func (s *Store) Commit(ctx context.Context, b *store.Batch) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if b == nil || len(b.Ops) == 0 {
		return nil
	}
	for i := range b.Ops {
		if err := validate(&b.Ops[i]); err != nil {
			return fmt.Errorf("cassandra: op %d of %d: %w", i, len(b.Ops), err)
		}
	}
	w := writer{s: s, ctx: ctx, invites: map[string]store.ID{}}
	base := s.clock.reserve(len(b.Ops))
	for i := range b.Ops {
		ts := base + int64(i)
		if b.Ops[i].TS != 0 {
			ts = b.Ops[i].TS
		}
		if err := w.apply(&b.Ops[i], ts); err != nil {
			return fmt.Errorf("cassandra: op %d of %d (%s): %w", i, len(b.Ops), b.Ops[i].Kind, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cassandra: commit: %w", err)
	}
	if err := s.execute(ctx, w.stmts); err != nil {
		return wrap(err, "commit %d ops", len(b.Ops))
	}
	s.markers.add(w.markers)
	return nil
}

// partition names the partition a statement writes, to tell single-
// partition batches from the rest.
type partition struct {
	table  string
	k1, k2 int64
	k3     string
}

type stmt struct {
	query string
	args  []any
	part  partition
	size  int
}

func newStmt(query string, part partition, args ...any) stmt {
	n := 64 // the row's overhead, about
	for _, a := range args {
		switch v := a.(type) {
		case string:
			n += len(v)
		case []byte:
			n += len(v)
		default:
			n += 8
		}
	}
	return stmt{query: query, args: args, part: part, size: n}
}

func (s *Store) execute(ctx context.Context, stmts []stmt) error {
	if len(stmts) == 1 {
		return s.sess.Query(stmts[0].query, stmts[0].args...).WithContext(ctx).Exec()
	}
	single := true
	total := 0
	for _, st := range stmts {
		single = single && st.part == stmts[0].part
		total += st.size
	}
	if single {
		return s.runBatch(ctx, gocql.UnloggedBatch, stmts)
	}
	for len(stmts) > 0 {
		n, size := 0, 0
		for n < len(stmts) && (n == 0 || size+stmts[n].size <= maxBatchBytes) {
			size += stmts[n].size
			n++
		}
		if err := s.runBatch(ctx, gocql.LoggedBatch, stmts[:n]); err != nil {
			return err
		}
		stmts = stmts[n:]
	}
	return nil
}

func (s *Store) runBatch(ctx context.Context, typ gocql.BatchType, stmts []stmt) error {
	if len(stmts) == 1 {
		return s.sess.Query(stmts[0].query, stmts[0].args...).WithContext(ctx).Exec()
	}
	b := s.sess.NewBatch(typ).WithContext(ctx)
	for _, st := range stmts {
		// Idempotent: replaying statements with fixed timestamps changes
		// nothing, so the driver may retry the batch.
		b.Entries = append(b.Entries, gocql.BatchEntry{Stmt: st.query, Args: st.args, Idempotent: true})
	}
	return s.sess.ExecuteBatch(b)
}

// writer turns the ops of one batch into statements.
type writer struct {
	s       *Store
	ctx     context.Context
	stmts   []stmt
	markers []marker
	// invites maps codes that earlier ops of the batch put (to their
	// guild) or deleted (to 0), since those writes are not in the
	// database yet.
	invites map[string]store.ID
}

func (w *writer) add(query string, part partition, args ...any) {
	w.stmts = append(w.stmts, newStmt(query, part, args...))
}

// putJSON adds an INSERT of keys, the JSON of v and the timestamp, in
// that order.
func (w *writer) putJSON(query string, part partition, v any, ts int64, keys ...any) error {
	data, err := encodeJSON(v)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	w.add(query, part, append(keys, data, ts)...)
	return nil
}

func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // content is full of <, > and &; don't bloat it
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

func idPart(table string, id store.ID) partition { return partition{table: table, k1: sid(id)} }

func (w *writer) apply(op *store.Op, ts int64) error {
	switch op.Kind {
	case store.OpPutUser:
		return w.putJSON(qPutUser, idPart("users", op.User.ID), op.User, ts, sid(op.User.ID))
	case store.OpPutCredentials:
		c := op.Credentials
		return w.putJSON(qPutCredentials, partition{table: "credentials", k3: c.Login}, c, ts, c.Login)
	case store.OpPutToken:
		t := op.Token
		return w.putJSON(qPutToken, partition{table: "tokens", k3: string(t.Hash)}, t, ts, t.Hash)
	case store.OpDeleteToken:
		w.add(qDeleteToken, partition{table: "tokens", k3: string(op.Hash)}, ts, op.Hash)
	case store.OpPutApplication:
		a := op.Application
		return w.putJSON(qPutApplication, idPart("applications", a.ID), a, ts, sid(a.ID))

	case store.OpPutGuild:
		return w.putJSON(qPutGuild, idPart("guilds", op.Guild.ID), op.Guild, ts, sid(op.Guild.ID))
	case store.OpDeleteGuild:
		return w.deleteGuild(op.GuildID, ts)
	case store.OpPutChannel:
		c := op.Channel
		if c.GuildID == 0 { // a DM or group DM
			return w.putJSON(qPutDM, idPart("dm_channels", c.ID), c, ts, sid(c.ID))
		}
		return w.putJSON(qPutGuildChannel, idPart("guild_channels", c.GuildID), c, ts, sid(c.GuildID), sid(c.ID))
	case store.OpDeleteChannel:
		id := orID(op.ChannelID, op.ID)
		// The contract has guild channel deletes carry the guild ID; one
		// without it is a DM.
		if op.GuildID != 0 {
			w.add(qDelGuildChannel, idPart("guild_channels", op.GuildID), ts, sid(op.GuildID), sid(id))
		} else {
			w.add(qDeleteDM, idPart("dm_channels", id), ts, sid(id))
		}
	case store.OpPutRole:
		return w.putJSON(qPutRole, idPart("guild_roles", op.GuildID), op.Role, ts, sid(op.GuildID), sid(op.Role.ID))
	case store.OpDeleteRole:
		w.add(qDelRole, idPart("guild_roles", op.GuildID), ts, sid(op.GuildID), sid(op.ID))
	case store.OpPutMember:
		gid := orID(op.Member.GuildID, op.GuildID)
		return w.putJSON(qPutMember, idPart("guild_members", gid), op.Member, ts, sid(gid), sid(op.Member.UserID))
	case store.OpDeleteMember:
		w.add(qDelMember, idPart("guild_members", op.GuildID), ts, sid(op.GuildID), sid(op.UserID))
	case store.OpPutBan:
		gid := orID(op.Ban.GuildID, op.GuildID)
		return w.putJSON(qPutBan, idPart("guild_bans", gid), op.Ban, ts, sid(gid), sid(op.Ban.UserID))
	case store.OpDeleteBan:
		w.add(qDelBan, idPart("guild_bans", op.GuildID), ts, sid(op.GuildID), sid(op.UserID))
	case store.OpPutInvite:
		return w.putInvite(op, ts)
	case store.OpDeleteInvite:
		return w.deleteInvite(op.Code, op.GuildID, ts)

	case store.OpPutMessage:
		return w.putMessage(op, ts)
	case store.OpDeleteMessage:
		ch, id := sid(op.ChannelID), sid(op.ID)
		b := bucketOf(op.ID)
		w.add(qDeleteMessage, partition{table: "messages", k1: ch, k2: int64(b)}, ts, ch, b, id)
		w.add(qDeleteAllReaction, partition{table: "reactions", k1: ch, k2: id}, ts, ch, id)
		w.add(qDeletePin, idPart("pins", op.ChannelID), ts, ch, id)
	case store.OpPutReaction, store.OpDeleteReaction:
		ch, id := sid(op.ChannelID), sid(op.ID)
		q := qPutReaction
		args := []any{ch, id, op.Emoji, sid(op.UserID), ts}
		if op.Kind == store.OpDeleteReaction {
			q, args = qDeleteReaction, []any{ts, ch, id, op.Emoji, sid(op.UserID)}
		}
		w.add(q, partition{table: "reactions", k1: ch, k2: id}, args...)
	case store.OpDeleteReactions:
		ch, id := sid(op.ChannelID), sid(op.ID)
		part := partition{table: "reactions", k1: ch, k2: id}
		if op.Emoji == "" {
			w.add(qDeleteAllReaction, part, ts, ch, id)
		} else {
			w.add(qDeleteEmoji, part, ts, ch, id, op.Emoji)
		}
	}
	return nil
}

func orID(a, b store.ID) store.ID {
	if a != 0 {
		return a
	}
	return b
}
