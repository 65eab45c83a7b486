package engine

import (
	"sort"
	"sync"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

// hotCap is how many of a channel's newest messages stay decoded in
// memory: enough for the largest page Discord allows (100).
const hotCap = 100

// hotRing is a channel's newest messages, newest first. It is exact: it
// holds the newest len(msgs) messages of the channel, and all of them when
// complete is set.
type hotRing struct {
	msgs     []*model.Message
	complete bool
	loaded   bool   // msgs is valid (false: only the version is tracked)
	version  uint64 // bumped by every message write to the channel
}

// hotCache serves the latest page of history from memory: the write path
// keeps it exact as ops are applied, and the first read of a channel fills
// it from the store. It is the node-local form of the design's "recent
// messages of each channel" ring.
type hotCache struct {
	mu sync.Mutex
	ch map[ID]*hotRing
}

func (h *hotCache) ring(channelID ID) *hotRing {
	if h.ch == nil {
		h.ch = map[ID]*hotRing{}
	}
	r := h.ch[channelID]
	if r == nil {
		r = &hotRing{}
		h.ch[channelID] = r
	}
	return r
}

// apply keeps rings exact as committed ops are applied (under the
// channel's sequencer lock).
func (h *hotCache) apply(op store.Op) {
	switch op.Kind {
	case store.OpPutMessage, store.OpDeleteMessage, store.OpDeleteChannel:
	default:
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	channelID := op.ChannelID
	if op.Kind == store.OpPutMessage {
		channelID = op.Message.ChannelID
	}
	if op.Kind == store.OpDeleteChannel && channelID == 0 {
		channelID = op.ID
	}
	r := h.ring(channelID)
	r.version++
	if !r.loaded {
		return
	}
	switch op.Kind {
	case store.OpDeleteChannel:
		delete(h.ch, channelID)
	case store.OpDeleteMessage:
		if i, ok := r.find(op.ID); ok {
			r.msgs = append(r.msgs[:i:i], r.msgs[i+1:]...)
		}
	case store.OpPutMessage:
		m := op.Message
		if i, ok := r.find(m.ID); ok {
			next := make([]*model.Message, len(r.msgs))
			copy(next, r.msgs)
			next[i] = m
			r.msgs = next
			return
		}
		if len(r.msgs) == 0 || m.ID > r.msgs[0].ID {
			next := make([]*model.Message, 0, min(len(r.msgs)+1, hotCap))
			next = append(next, m)
			next = append(next, r.msgs[:min(len(r.msgs), hotCap-1)]...)
			if len(r.msgs) >= hotCap {
				r.complete = false
			}
			r.msgs = next
			return
		}
		if !r.complete && m.ID < r.msgs[len(r.msgs)-1].ID {
			return // older than the ring covers: not ours to track
		}
		// A message inside the covered range that the ring lacks cannot
		// be placed safely; forget the ring and refill on the next read.
		r.loaded, r.msgs = false, nil
	}
}

// find locates a message in the newest-first ring.
func (r *hotRing) find(id ID) (int, bool) {
	i := sort.Search(len(r.msgs), func(i int) bool { return r.msgs[i].ID <= id })
	return i, i < len(r.msgs) && r.msgs[i].ID == id
}

// latest returns the newest limit messages, if the ring can answer, and
// the channel's version for a later fill.
func (h *hotCache) latest(channelID ID, limit int) ([]*model.Message, uint64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.ring(channelID)
	if r.loaded && (len(r.msgs) >= limit || r.complete) {
		n := min(limit, len(r.msgs))
		out := make([]*model.Message, n)
		copy(out, r.msgs[:n])
		return out, r.version, true
	}
	return nil, r.version, false
}

// fill installs what a read got from the store, unless a write to the
// channel happened since the read began (version changed).
func (h *hotCache) fill(channelID ID, version uint64, msgs []*model.Message, complete bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.ring(channelID)
	if r.version != version {
		return
	}
	r.msgs, r.complete, r.loaded = msgs, complete, true
}
