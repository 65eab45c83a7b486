package cassandra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gocql/gocql"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

// Page sizes, as Discord's API: ListMessages defaults to 50 and
// ListReactionUsers to 25; both cap at 100.
const (
	defaultMessageLimit  = 50
	defaultReactionLimit = 25
	maxLimit             = 100
	// bucketPage is how many bucket numbers a history walk fetches at a
	// time: a page of 100 messages rarely spans more than a few buckets.
	bucketPage = 8
)

func clampLimit(n, def int) int {
	switch {
	case n <= 0:
		return def
	case n > maxLimit:
		return maxLimit
	}
	return n
}

const messageCols = `message_id, guild_id, author_id, content, created_at, type, flags, tts, mention_everyone, pinned, extra`

const (
	qGetMessage       = `SELECT ` + messageCols + ` FROM messages WHERE channel_id = ? AND bucket = ? AND message_id = ?`
	qGetPinnedMessage = `SELECT ` + messageCols + `, WRITETIME(pinned) FROM messages WHERE channel_id = ? AND bucket = ? AND message_id = ?`
	// Within a bucket: newest first up to an ID, or oldest first above one.
	qMessagesAtOrBelow = `SELECT ` + messageCols + ` FROM messages WHERE channel_id = ? AND bucket = ? AND message_id <= ? LIMIT ?`
	qMessagesAbove     = `SELECT ` + messageCols + ` FROM messages WHERE channel_id = ? AND bucket = ? AND message_id > ? ORDER BY message_id ASC LIMIT ?`
	qNewestMessageID   = `SELECT message_id FROM messages WHERE channel_id = ? AND bucket = ? LIMIT 1`

	qBucketsAll       = `SELECT bucket FROM channel_buckets WHERE channel_id = ?`
	qBucketsAtOrBelow = `SELECT bucket FROM channel_buckets WHERE channel_id = ? AND bucket <= ?`
	qBucketsAtOrAbove = `SELECT bucket FROM channel_buckets WHERE channel_id = ? AND bucket >= ? ORDER BY bucket ASC`

	qListPins       = `SELECT message_id, WRITETIME(bucket) FROM pins WHERE channel_id = ?`
	qDeleteStalePin = `DELETE FROM pins USING TIMESTAMP ? WHERE channel_id = ? AND message_id = ?`

	qReactionUsers = `SELECT user_id FROM reactions WHERE channel_id = ? AND message_id = ? AND emoji = ? AND user_id > ? LIMIT ?`
	qHasReaction   = `SELECT user_id FROM reactions WHERE channel_id = ? AND message_id = ? AND emoji = ? AND user_id = ?`
)

// messageExtra holds the fields that may be absent or are lists. They are
// one JSON value, written every time (empty when there is nothing), so that
// a put replaces them all without writing a null, which would be a
// tombstone.
type messageExtra struct {
	EditedTimestamp  *time.Time              `json:"edited_timestamp,omitempty"`
	Mentions         []store.ID              `json:"mentions,omitempty"`
	MentionRoles     []store.ID              `json:"mention_roles,omitempty"`
	Attachments      []model.Attachment      `json:"attachments,omitempty"`
	Embeds           []json.RawMessage       `json:"embeds,omitempty"`
	Nonce            json.RawMessage         `json:"nonce,omitempty"`
	PinnedAt         *time.Time              `json:"pinned_at,omitempty"`
	MessageReference *model.MessageReference `json:"message_reference,omitempty"`
	Reactions        []model.ReactionCount   `json:"reactions,omitempty"`
}

func (x *messageExtra) empty() bool {
	return x.EditedTimestamp == nil && len(x.Mentions) == 0 && len(x.MentionRoles) == 0 &&
		len(x.Attachments) == 0 && len(x.Embeds) == 0 && len(x.Nonce) == 0 && x.PinnedAt == nil &&
		x.MessageReference == nil && len(x.Reactions) == 0
}

// messageArgs returns the values of qInsertMessage for m, timestamp last.
func messageArgs(m *model.Message, ts int64) ([]any, error) {
	x := messageExtra{
		EditedTimestamp: m.EditedTimestamp, Mentions: m.Mentions, MentionRoles: m.MentionRoles,
		Attachments: m.Attachments, Embeds: m.Embeds, Nonce: m.Nonce, PinnedAt: m.PinnedAt,
		MessageReference: m.MessageReference, Reactions: m.Reactions,
	}
	// An empty blob, unlike a nil one, is a value rather than a null.
	extra := []byte{}
	if !x.empty() {
		var err error
		if extra, err = encodeJSON(&x); err != nil {
			return nil, err
		}
	}
	return []any{
		sid(m.ChannelID), bucketOf(m.ID), sid(m.ID), sid(m.GuildID), sid(m.AuthorID),
		m.Content, m.Timestamp, m.Type, m.Flags, m.TTS, m.MentionEveryone, m.Pinned, extra, ts,
	}, nil
}

// messageRow is the destination of a scan of messageCols.
type messageRow struct {
	id, guild, author int64
	content           string
	created           time.Time
	typ, flags        int
	tts, everyone     bool
	pinned            bool
	extra             []byte
}

func (r *messageRow) dest() []any {
	return []any{&r.id, &r.guild, &r.author, &r.content, &r.created, &r.typ, &r.flags, &r.tts, &r.everyone, &r.pinned, &r.extra}
}

func (r *messageRow) message(channelID store.ID) (*model.Message, error) {
	m := &model.Message{
		ID: fromSID(r.id), ChannelID: channelID, GuildID: fromSID(r.guild), AuthorID: fromSID(r.author),
		Content: r.content, Type: r.typ, Flags: r.flags, TTS: r.tts, MentionEveryone: r.everyone, Pinned: r.pinned,
	}
	if !r.created.IsZero() {
		m.Timestamp = r.created.UTC()
	}
	if len(r.extra) > 0 {
		var x messageExtra
		if err := json.Unmarshal(r.extra, &x); err != nil {
			return nil, fmt.Errorf("message %d: decode extra: %w", m.ID, err)
		}
		m.EditedTimestamp, m.Mentions, m.MentionRoles = x.EditedTimestamp, x.Mentions, x.MentionRoles
		m.Attachments, m.Embeds, m.Nonce, m.PinnedAt = x.Attachments, x.Embeds, x.Nonce, x.PinnedAt
		m.MessageReference, m.Reactions = x.MessageReference, x.Reactions
	}
	return m, nil
}

func (s *Store) GetMessage(ctx context.Context, channelID, messageID store.ID) (*model.Message, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var r messageRow
	err := s.sess.Query(qGetMessage, sid(channelID), bucketOf(messageID), sid(messageID)).WithContext(ctx).Scan(r.dest()...)
	if err != nil {
		return nil, wrap(err, "get message %d in channel %d", messageID, channelID)
	}
	m, err := r.message(channelID)
	return m, wrap(err, "get message %d in channel %d", messageID, channelID)
}

// ListMessages walks the channel's non-empty buckets from channel_buckets,
// newest first for latest and Before pages and oldest first for After,
// reading each bucket partition with a clustering slice until the page is
// full. A latest page of a busy channel is two reads: the bucket list and
// one partition. Around is an After page of limit/2 above the ID and an
// "at or below" page for the rest, as in the contract.
func (s *Store) ListMessages(ctx context.Context, channelID store.ID, q store.MessageQuery) ([]*model.Message, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	limit := clampLimit(q.Limit, defaultMessageLimit)
	out := make([]*model.Message, 0, limit)
	var err error
	switch {
	case q.Around != 0:
		newer := limit / 2
		out, err = s.collectNewer(ctx, out, channelID, q.Around, newer)
		if err == nil {
			out, err = s.collectOlder(ctx, out, channelID, q.Around, limit-newer)
		}
	case q.Before != 0:
		out, err = s.collectOlder(ctx, out, channelID, q.Before-1, limit)
	case q.After != 0:
		out, err = s.collectNewer(ctx, out, channelID, q.After, limit)
	default:
		out, err = s.collectOlder(ctx, out, channelID, ^store.ID(0), limit)
	}
	if err != nil {
		return nil, wrap(err, "list messages of channel %d", channelID)
	}
	return out, nil
}

// collectOlder appends up to n messages with IDs ≤ from, newest first.
func (s *Store) collectOlder(ctx context.Context, out []*model.Message, channelID, from store.ID, n int) ([]*model.Message, error) {
	if n <= 0 {
		return out, nil
	}
	buckets := s.sess.Query(qBucketsAtOrBelow, sid(channelID), bucketOf(from)).WithContext(ctx).PageSize(bucketPage).Iter()
	var b int32
	for n > 0 && buckets.Scan(&b) {
		before := len(out)
		var err error
		out, err = s.readMessages(ctx, out, channelID, qMessagesAtOrBelow, b, sid(from), n)
		if err != nil {
			buckets.Close()
			return out, err
		}
		n -= len(out) - before
	}
	return out, buckets.Close()
}

// collectNewer appends up to n messages with IDs > after, the n closest to
// it, newest first.
func (s *Store) collectNewer(ctx context.Context, out []*model.Message, channelID, after store.ID, n int) ([]*model.Message, error) {
	if n <= 0 {
		return out, nil
	}
	start := len(out)
	buckets := s.sess.Query(qBucketsAtOrAbove, sid(channelID), bucketOf(after)).WithContext(ctx).PageSize(bucketPage).Iter()
	var b int32
	for n > 0 && buckets.Scan(&b) {
		before := len(out)
		var err error
		out, err = s.readMessages(ctx, out, channelID, qMessagesAbove, b, sid(after), n)
		if err != nil {
			buckets.Close()
			return out, err
		}
		n -= len(out) - before
	}
	slices.Reverse(out[start:]) // read upwards; the page is newest first
	return out, buckets.Close()
}

// readMessages appends up to n messages of one bucket from query, which
// takes (channel, bucket, pivot, limit).
func (s *Store) readMessages(ctx context.Context, out []*model.Message, channelID store.ID, query string, bucket int32, pivot int64, n int) ([]*model.Message, error) {
	iter := s.sess.Query(query, sid(channelID), bucket, pivot, n).WithContext(ctx).PageSize(n).Iter()
	var r messageRow
	dest := r.dest()
	for iter.Scan(dest...) {
		m, err := r.message(channelID)
		if err != nil {
			iter.Close()
			return out, err
		}
		out = append(out, m)
		r = messageRow{}
	}
	return out, iter.Close()
}

// LatestMessageID reads the newest row of the newest non-empty bucket.
func (s *Store) LatestMessageID(ctx context.Context, channelID store.ID) (store.ID, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	buckets := s.sess.Query(qBucketsAll, sid(channelID)).WithContext(ctx).PageSize(bucketPage).Iter()
	var b int32
	for buckets.Scan(&b) {
		var id int64
		err := s.sess.Query(qNewestMessageID, sid(channelID), b).WithContext(ctx).Scan(&id)
		if errors.Is(err, gocql.ErrNotFound) {
			continue // every message of the bucket was deleted
		}
		buckets.Close()
		if err != nil {
			return 0, wrap(err, "latest message of channel %d", channelID)
		}
		return fromSID(id), nil
	}
	return 0, wrap(buckets.Close(), "latest message of channel %d", channelID)
}

// ListPins reads the pin rows and then each message, keeping those still
// pinned. Unpinning a message does not touch its pin row (a put would
// otherwise have to read first, or write a tombstone on every message
// create), so a row can outlive its pin. Such a row is deleted here, at
// its own write time so that a newer pin of the same message survives, but
// only once the message's newer unpinned version is visible: across
// datacenters the pin row can arrive before the message row.
func (s *Store) ListPins(ctx context.Context, channelID store.ID) ([]*model.Message, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	type pin struct {
		id store.ID
		wt int64
	}
	var pins []pin
	iter := s.sess.Query(qListPins, sid(channelID)).WithContext(ctx).Iter()
	var id, wt int64
	for iter.Scan(&id, &wt) {
		pins = append(pins, pin{fromSID(id), wt})
	}
	if err := iter.Close(); err != nil {
		return nil, wrap(err, "list pins of channel %d", channelID)
	}
	var out []*model.Message
	for _, p := range pins {
		var r messageRow
		var msgWT int64
		err := s.sess.Query(qGetPinnedMessage, sid(channelID), bucketOf(p.id), sid(p.id)).WithContext(ctx).
			Scan(append(r.dest(), &msgWT)...)
		if errors.Is(err, gocql.ErrNotFound) {
			continue // deleted: DeleteMessage removes the pin row too
		}
		if err != nil {
			return nil, wrap(err, "list pins of channel %d: message %d", channelID, p.id)
		}
		if !r.pinned {
			if msgWT > p.wt {
				s.dropStalePin(ctx, channelID, p.id, p.wt)
			}
			continue
		}
		m, err := r.message(channelID)
		if err != nil {
			return nil, wrap(err, "list pins of channel %d", channelID)
		}
		out = append(out, m)
	}
	return out, nil
}

func (s *Store) dropStalePin(ctx context.Context, channelID, id store.ID, wt int64) {
	if err := s.sess.Query(qDeleteStalePin, wt, sid(channelID), sid(id)).WithContext(ctx).Exec(); err != nil {
		s.log.Warn("could not drop a stale pin row", "channel", channelID, "message", id, "err", err)
	}
}

func (s *Store) ListReactionUsers(ctx context.Context, channelID, messageID store.ID, emoji string, after store.ID, limit int) ([]store.ID, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	limit = clampLimit(limit, defaultReactionLimit)
	if emoji == "" {
		return nil, nil
	}
	iter := s.sess.Query(qReactionUsers, sid(channelID), sid(messageID), emoji, sid(after), limit).
		WithContext(ctx).PageSize(limit).Iter()
	var out []store.ID
	var u int64
	for iter.Scan(&u) {
		out = append(out, fromSID(u))
	}
	if err := iter.Close(); err != nil {
		return nil, wrap(err, "list reactions %q on message %d", emoji, messageID)
	}
	return out, nil
}

func (s *Store) HasReaction(ctx context.Context, channelID, messageID store.ID, emoji string, userID store.ID) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, err
	}
	if emoji == "" {
		return false, nil
	}
	var u int64
	err := s.sess.Query(qHasReaction, sid(channelID), sid(messageID), emoji, sid(userID)).WithContext(ctx).Scan(&u)
	if errors.Is(err, gocql.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, wrap(err, "has reaction %q on message %d", emoji, messageID)
	}
	return true, nil
}
