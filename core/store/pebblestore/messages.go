package pebblestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/cockroachdb/pebble"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

// Page sizes, as Discord's API: ListMessages defaults to 50 and
// ListReactionUsers to 25; both cap at 100.
const (
	defaultMessageLimit  = 50
	defaultReactionLimit = 25
	maxLimit             = 100
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

func (s *Store) GetMessage(ctx context.Context, channelID, messageID store.ID) (*model.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var m *model.Message
	err := getValue(s.db, messageKey(channelID, messageID), func(v []byte) (err error) {
		m, err = decodeMessage(v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pebblestore: get message %d in channel %d: %w", messageID, channelID, err)
	}
	return m, nil
}

// ListMessages returns a page of history, newest first. With the inverted
// message IDs of the key layout:
//
//   - latest and Before are a seek and up to limit forward steps;
//   - After walks backwards from the key of After, which yields the
//     messages just above it oldest first, and reverses them;
//   - Around takes limit/2 messages newer than Around that way, and the
//     rest from Around itself downwards, so that with limit 50 the page is
//     25 newer messages, Around and 24 older ones. A side that runs out is
//     not made up from the other, as on Discord.
//
// If several of Before, After and Around are set, Around wins, then
// Before.
func (s *Store) ListMessages(ctx context.Context, channelID store.ID, q store.MessageQuery) ([]*model.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	limit := clampLimit(q.Limit, defaultMessageLimit)
	prefix := channelPrefix(tMessage, channelID)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("pebblestore: list messages of channel %d: %w", channelID, err)
	}
	out := make([]*model.Message, 0, limit)
	switch {
	case q.Around != 0:
		newer := limit / 2
		out, err = collectNewer(it, out, channelID, q.Around, newer)
		if err == nil {
			out, err = collectOlder(it, out, channelID, q.Around, limit-newer)
		}
	case q.Before != 0:
		out, err = collectOlder(it, out, channelID, q.Before-1, limit)
	case q.After != 0:
		out, err = collectNewer(it, out, channelID, q.After, limit)
	default:
		out, err = collectOlder(it, out, channelID, math.MaxUint64, limit)
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("pebblestore: list messages of channel %d: %w", channelID, err)
	}
	return out, nil
}

// collectOlder appends up to n messages with IDs ≤ from, newest first.
func collectOlder(it *pebble.Iterator, out []*model.Message, channelID, from store.ID, n int) ([]*model.Message, error) {
	if n <= 0 {
		return out, nil
	}
	for valid := it.SeekGE(messageKey(channelID, from)); valid && n > 0; valid = it.Next() {
		m, err := iterMessage(it)
		if err != nil {
			return out, err
		}
		out = append(out, m)
		n--
	}
	return out, it.Error()
}

// collectNewer appends up to n messages with IDs > after: the n closest to
// after, newest first.
func collectNewer(it *pebble.Iterator, out []*model.Message, channelID, after store.ID, n int) ([]*model.Message, error) {
	if n <= 0 {
		return out, nil
	}
	start := len(out)
	for valid := it.SeekLT(messageKey(channelID, after)); valid && n > 0; valid = it.Prev() {
		m, err := iterMessage(it)
		if err != nil {
			return out, err
		}
		out = append(out, m)
		n--
	}
	slices.Reverse(out[start:]) // walked upwards; the page is newest first
	return out, it.Error()
}

func iterMessage(it *pebble.Iterator) (*model.Message, error) {
	v, err := it.ValueAndErr()
	if err != nil {
		return nil, err
	}
	m, err := decodeMessage(v)
	if err != nil {
		return nil, fmt.Errorf("message %d: %w", messageIDFromKey(it.Key()), err)
	}
	return m, nil
}

// ListPins walks the pin index and reads each message. It checks Pinned
// rather than trusting the index, which may hold a stale entry if Commits
// on one channel were not serialized (see Commit).
func (s *Store) ListPins(ctx context.Context, channelID store.ID) ([]*model.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var ids []store.ID
	err := scan(s.db, channelPrefix(tPin, channelID), func(k, _ []byte) error {
		if len(k) != pinKeyLen {
			return errCorrupt
		}
		ids = append(ids, pinIDFromKey(k))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pebblestore: list pins of channel %d: %w", channelID, err)
	}
	out := make([]*model.Message, 0, len(ids))
	for _, id := range ids {
		var m *model.Message
		err := getValue(s.db, messageKey(channelID, id), func(v []byte) (err error) {
			if !messagePinned(v) {
				return nil
			}
			m, err = decodeMessage(v)
			return err
		})
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("pebblestore: list pins of channel %d: message %d: %w", channelID, id, err)
		}
		if m != nil {
			out = append(out, m)
		}
	}
	return out, nil
}

func (s *Store) ListReactionUsers(ctx context.Context, channelID, messageID store.ID, emoji string, after store.ID, limit int) ([]store.ID, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	limit = clampLimit(limit, defaultReactionLimit)
	if emoji == "" {
		return nil, nil // an empty emoji would select every emoji's users
	}
	prefix := reactionPrefix(channelID, messageID, emoji)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("pebblestore: list reactions %q on message %d: %w", emoji, messageID, err)
	}
	var out []store.ID
	valid := it.SeekGE(binary.BigEndian.AppendUint64(prefix, uint64(after)))
	for ; valid && len(out) < limit; valid = it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+8 {
			err = errCorrupt
			break
		}
		id := store.ID(binary.BigEndian.Uint64(k[len(prefix):]))
		if id == after {
			continue
		}
		out = append(out, id)
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("pebblestore: list reactions %q on message %d: %w", emoji, messageID, err)
	}
	return out, nil
}

func (s *Store) HasReaction(ctx context.Context, channelID, messageID store.ID, emoji string, userID store.ID) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := s.enter(); err != nil {
		return false, err
	}
	defer s.leave()
	if emoji == "" {
		return false, nil
	}
	err := getValue(s.db, reactionKey(channelID, messageID, emoji, userID), func([]byte) error { return nil })
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("pebblestore: has reaction %q on message %d: %w", emoji, messageID, err)
	}
	return true, nil
}

// LatestMessageID is the first key of the channel's message range, since
// IDs are stored inverted.
func (s *Store) LatestMessageID(ctx context.Context, channelID store.ID) (store.ID, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.leave()
	prefix := channelPrefix(tMessage, channelID)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return 0, fmt.Errorf("pebblestore: latest message of channel %d: %w", channelID, err)
	}
	var id store.ID
	if it.First() {
		if k := it.Key(); len(k) == messageKeyLen {
			id = messageIDFromKey(k)
		} else {
			err = errCorrupt
		}
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("pebblestore: latest message of channel %d: %w", channelID, err)
	}
	return id, nil
}
