package engine

import (
	"context"
	"errors"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/model"
)

// Store reads of a command, made without its sequencer's lock.
//
// The apply goroutine takes a sequencer's lock to apply that guild's
// entries, so a plan that read the store under the lock would make one
// slow read stall applying for every guild of the shard. A plan that
// needs the store asks a reads instead: the first time it is evaluated
// the reads answer errMustRead and note what was asked; sequenceReplicated
// then drops the lock, waits until the store holds everything applied,
// reads, and evaluates the plan again, which now finds the answers. The
// answers stay good while the sequencer applies nothing that could change
// them (a new message changes no stored one): entry.version counts the
// other entries, and answers taken at an older version are read again.
//
// A reads belongs to one command; it is used under the sequencer's lock
// by the plan and outside it by sequenceReplicated, never concurrently.
type reads struct {
	e       *Engine
	version uint64 // the sequencer's version when the answers were read
	msgs    map[msgKey]result[*model.Message]
	pins    map[ID]result[[]*model.Message]
	has     map[reactionKey]result[bool]
	want    []func(context.Context) // asked for by the last evaluation
}

type msgKey struct{ channel, message ID }

type reactionKey struct {
	channel, message, user ID
	emoji                  string
}

type result[T any] struct {
	v   T
	err error
}

// errMustRead is what a plan gets for an answer not read yet; it returns
// it (or anything else: sequenceReplicated evaluates it again regardless
// once it asked for a read).
var errMustRead = errors.New("engine: the plan needs store reads")

// newReads is cheap: a plan that asks for nothing (most new messages)
// allocates no map.
func (e *Engine) newReads() *reads { return &reads{e: e} }

// reset forgets the answers, read at another version.
func (r *reads) reset(version uint64) {
	clear(r.msgs)
	clear(r.pins)
	clear(r.has)
	r.want = r.want[:0]
	r.version = version
}

// message is the stored message, or Unknown Message.
func (r *reads) message(channelID, messageID ID) (*model.Message, error) {
	m, err := r.lookup(channelID, messageID)
	if err != nil && !errors.Is(err, errMustRead) {
		return nil, notFound(err, apierr.ErrUnknownMessage)
	}
	return m, err
}

// lookup is message with the store's own errors (store.ErrNotFound).
func (r *reads) lookup(channelID, messageID ID) (*model.Message, error) {
	k := msgKey{channelID, messageID}
	if res, ok := r.msgs[k]; ok {
		return res.v, res.err
	}
	r.want = append(r.want, func(ctx context.Context) {
		m, err := r.e.st.GetMessage(ctx, channelID, messageID)
		if r.msgs == nil {
			r.msgs = map[msgKey]result[*model.Message]{}
		}
		r.msgs[k] = result[*model.Message]{m, err}
	})
	return nil, errMustRead
}

// pinned lists the channel's pinned messages.
func (r *reads) pinned(channelID ID) ([]*model.Message, error) {
	if res, ok := r.pins[channelID]; ok {
		return res.v, res.err
	}
	r.want = append(r.want, func(ctx context.Context) {
		ms, err := r.e.st.ListPins(ctx, channelID)
		if r.pins == nil {
			r.pins = map[ID]result[[]*model.Message]{}
		}
		r.pins[channelID] = result[[]*model.Message]{ms, err}
	})
	return nil, errMustRead
}

// hasReaction reports whether the user reacted with the emoji.
func (r *reads) hasReaction(channelID, messageID ID, emoji string, userID ID) (bool, error) {
	k := reactionKey{channelID, messageID, userID, emoji}
	if res, ok := r.has[k]; ok {
		return res.v, res.err
	}
	r.want = append(r.want, func(ctx context.Context) {
		has, err := r.e.st.HasReaction(ctx, channelID, messageID, emoji, userID)
		if r.has == nil {
			r.has = map[reactionKey]result[bool]{}
		}
		r.has[k] = result[bool]{has, err}
	})
	return false, errMustRead
}
