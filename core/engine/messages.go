package engine

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
)

// Message limits from Discord's documentation.
const (
	MaxContent     = 2000
	MaxEmbeds      = 10
	MaxAttachments = 10
	MaxPins        = 50
	BulkMin        = 2
	BulkMax        = 100
	BulkMaxAge     = 14 * 24 * time.Hour
)

// AllowedMentions is Discord's allowed_mentions object. A nil pointer means
// "the default": every mention in the content pings.
type AllowedMentions struct {
	Parse       []string
	Users       []ID
	Roles       []ID
	RepliedUser bool
}

// MessageParams is a new message.
type MessageParams struct {
	Content         string
	Nonce           json.RawMessage
	TTS             bool
	Embeds          []json.RawMessage
	Reference       *model.MessageReference
	AllowedMentions *AllowedMentions
	Attachments     []model.Attachment
	Flags           int
	// EnforceNonce makes a repeated nonce from the same author in the same
	// channel return the message it created instead of a new one.
	EnforceNonce bool
}

// nonceWindow is how long an enforced nonce is remembered (Discord: "a few
// minutes").
const nonceWindow = 5 * time.Minute

type nonceKey struct {
	author, channel ID
	nonce           string
}

type nonceEntry struct {
	id ID
	at time.Time
}

// nonceCache remembers enforced nonces; it is only touched under the
// channel's sequencer lock plus its own mutex.
type nonceCache struct {
	mu    sync.Mutex
	m     map[nonceKey]nonceEntry
	swept time.Time
}

func (n *nonceCache) get(k nonceKey, now time.Time) (ID, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	e, ok := n.m[k]
	if !ok || now.Sub(e.at) > nonceWindow {
		return 0, false
	}
	return e.id, true
}

func (n *nonceCache) put(k nonceKey, id ID, now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil {
		n.m = map[nonceKey]nonceEntry{}
	}
	if now.Sub(n.swept) > nonceWindow {
		for key, e := range n.m {
			if now.Sub(e.at) > nonceWindow {
				delete(n.m, key)
			}
		}
		n.swept = now
	}
	n.m[k] = nonceEntry{id: id, at: now}
}

// MessagePatch is an edit; nil fields stay.
type MessagePatch struct {
	Content         *string
	Embeds          *[]json.RawMessage
	Flags           *int
	AllowedMentions *AllowedMentions
	// Attachments, when set, is the list of attachment IDs to keep.
	KeepAttachments *[]ID
}

// MessageEvent is the payload of MESSAGE_CREATE and MESSAGE_UPDATE: the
// message and, for replies, the message it answers.
type MessageEvent struct {
	Message    *model.Message
	Referenced *model.Message
}

// flags a client may set: SUPPRESS_EMBEDS (1<<2), SUPPRESS_NOTIFICATIONS
// (1<<12).
const settableFlags = 1<<2 | 1<<12

var (
	userMention = regexp.MustCompile(`<@!?(\d{1,20})>`)
	roleMention = regexp.MustCompile(`<@&(\d{1,20})>`)
	everyoneRe  = regexp.MustCompile(`@(everyone|here)`)
)

// resolveMentions fills the message's mention fields from its content, as
// limited by allowed_mentions and the author's MENTION_EVERYONE.
func (e *Engine) resolveMentions(c *Chan, m *model.Message, am *AllowedMentions, replyAuthor ID) {
	parseUsers, parseRoles, parseEveryone := true, true, true
	var onlyUsers, onlyRoles []ID
	if am != nil {
		parseUsers = slices.Contains(am.Parse, "users")
		parseRoles = slices.Contains(am.Parse, "roles")
		parseEveryone = slices.Contains(am.Parse, "everyone")
		onlyUsers, onlyRoles = am.Users, am.Roles
	}
	m.Mentions, m.MentionRoles, m.MentionEveryone = nil, nil, false
	for _, sm := range userMention.FindAllStringSubmatch(m.Content, 100) {
		id, err := snowflake.Parse(sm[1])
		if err != nil || hasID(m.Mentions, id) || e.User(id) == nil {
			continue
		}
		if parseUsers || hasID(onlyUsers, id) {
			m.Mentions = append(m.Mentions, id)
		}
	}
	if replyAuthor != 0 && (am == nil || am.RepliedUser) && !hasID(m.Mentions, replyAuthor) {
		m.Mentions = append(m.Mentions, replyAuthor)
	}
	if c.State != nil {
		for _, sm := range roleMention.FindAllStringSubmatch(m.Content, 100) {
			id, err := snowflake.Parse(sm[1])
			if err != nil || hasID(m.MentionRoles, id) {
				continue
			}
			r := c.State.Roles[id]
			if r == nil || (!r.Mentionable && !c.Has(perm.MentionEveryone)) {
				continue
			}
			if parseRoles || hasID(onlyRoles, id) {
				m.MentionRoles = append(m.MentionRoles, id)
			}
		}
		m.MentionEveryone = parseEveryone && c.Has(perm.MentionEveryone) && everyoneRe.MatchString(m.Content)
	}
}

func validateContent(f *apierr.FormErrors, content string, embeds []json.RawMessage) {
	if utf8.RuneCountInString(content) > MaxContent {
		f.Addf("content", "BASE_TYPE_MAX_LENGTH", "Must be %d or fewer in length.", MaxContent)
	}
	if len(embeds) > MaxEmbeds {
		f.Addf("embeds", "BASE_TYPE_MAX_LENGTH", "Must be %d or fewer in length.", MaxEmbeds)
	}
}

func textChannel(c *model.Channel) bool {
	switch c.Type {
	case model.ChannelGuildText, model.ChannelDM, model.ChannelGroupDM, model.ChannelGuildVoice:
		return true
	}
	return false
}

// CreateMessage posts a message.
func (e *Engine) CreateMessage(ctx context.Context, actor, channelID ID, mp MessageParams) (*MessageEvent, error) {
	var f apierr.FormErrors
	validateContent(&f, mp.Content, mp.Embeds)
	if len(mp.Attachments) > MaxAttachments {
		f.Addf("attachments", "BASE_TYPE_MAX_LENGTH", "Must be %d or fewer in length.", MaxAttachments)
	}
	if len(mp.Nonce) > 0 {
		var s string
		if json.Unmarshal(mp.Nonce, &s) == nil && len(s) > 25 {
			f.Add("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
		}
	}
	if mp.Flags&^settableFlags != 0 {
		f.Add("flags", "MESSAGE_FLAGS_INVALID", "Only SUPPRESS_EMBEDS and SUPPRESS_NOTIFICATIONS can be set.")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	if trimmedLen(mp.Content) == 0 && len(mp.Embeds) == 0 && len(mp.Attachments) == 0 {
		return nil, apierr.ErrEmptyMessage
	}
	var out *MessageEvent
	err := e.withChannelReads(ctx, actor, channelID, func(c *Chan, rd *reads) (*plan, error) {
		if !textChannel(c.Channel) {
			return nil, apierr.ErrNotTextChannel
		}
		if c.Channel.Type == model.ChannelDM && !e.dmAllowed(c.Channel) {
			return nil, apierr.ErrCannotDM
		}
		if err := c.require(perm.SendMessages); err != nil {
			return nil, err
		}
		if len(mp.Attachments) > 0 {
			if err := c.require(perm.AttachFiles); err != nil {
				return nil, err
			}
		}
		if len(mp.Embeds) > 0 {
			if err := c.require(perm.EmbedLinks); err != nil {
				return nil, err
			}
		}
		var nk nonceKey
		if mp.EnforceNonce && len(mp.Nonce) > 0 {
			nk = nonceKey{author: actor, channel: channelID, nonce: string(mp.Nonce)}
			if id, ok := e.nonces.get(nk, e.now()); ok {
				prev, err := rd.lookup(channelID, id)
				if errors.Is(err, errMustRead) {
					return nil, err
				}
				if err == nil {
					out = &MessageEvent{Message: prev}
					return nil, nil
				}
			}
		}
		m := &model.Message{ID: e.NewID(), ChannelID: channelID, GuildID: c.GuildID(), AuthorID: actor,
			Content: mp.Content, Embeds: mp.Embeds, Nonce: mp.Nonce, Attachments: mp.Attachments,
			TTS: mp.TTS && c.Has(perm.SendTTSMessages), Flags: mp.Flags}
		m.Timestamp = m.ID.Time()
		ev := &MessageEvent{Message: m}
		var replyAuthor ID
		if ref := mp.Reference; ref != nil && ref.MessageID != 0 {
			if err := c.require(perm.ReadMessageHistory); err != nil {
				return nil, err
			}
			if ref.ChannelID != 0 && ref.ChannelID != channelID {
				return nil, apierr.InvalidForm("message_reference", "REPLIES_CANNOT_REFERENCE_OTHER_CHANNEL", "Cannot reply to a message in another channel.")
			}
			target, err := rd.lookup(channelID, ref.MessageID)
			if errors.Is(err, store.ErrNotFound) {
				return nil, apierr.InvalidForm("message_reference", "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
			}
			if err != nil {
				return nil, err
			}
			m.Type = model.MessageReply
			m.MessageReference = &model.MessageReference{Type: 0, MessageID: target.ID, ChannelID: channelID, GuildID: c.GuildID()}
			ev.Referenced = target
			replyAuthor = target.AuthorID
		}
		e.resolveMentions(c, m, mp.AllowedMentions, replyAuthor)
		if nk.nonce != "" {
			e.nonces.put(nk, m.ID, e.now())
		}
		out = ev
		p := &plan{}
		p.op(store.Op{Kind: store.OpPutMessage, GuildID: m.GuildID, ChannelID: channelID, ID: m.ID, Message: m, New: true})
		p.emit(Event{Type: "MESSAGE_CREATE", GuildID: m.GuildID, ChannelID: channelID, UserIDs: c.Channel.Recipients, Data: ev})
		return p, nil
	})
	return out, err
}

// loadMessage reads a message of the channel or fails with Unknown Message.
func (e *Engine) loadMessage(ctx context.Context, channelID, messageID ID) (*model.Message, error) {
	m, err := e.st.GetMessage(ctx, channelID, messageID)
	if err != nil {
		return nil, notFound(err, apierr.ErrUnknownMessage)
	}
	return m, nil
}

// EditMessage edits a message. Content, embeds and attachments only by the
// author; flags also with MANAGE_MESSAGES.
func (e *Engine) EditMessage(ctx context.Context, actor, channelID, messageID ID, mp MessagePatch) (*MessageEvent, error) {
	var f apierr.FormErrors
	if mp.Content != nil || mp.Embeds != nil {
		var content string
		var embeds []json.RawMessage
		if mp.Content != nil {
			content = *mp.Content
		}
		if mp.Embeds != nil {
			embeds = *mp.Embeds
		}
		validateContent(&f, content, embeds)
	}
	if mp.Flags != nil && *mp.Flags&^settableFlags != 0 {
		f.Add("flags", "MESSAGE_FLAGS_INVALID", "Only SUPPRESS_EMBEDS and SUPPRESS_NOTIFICATIONS can be set.")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	var out *MessageEvent
	err := e.withChannelReads(ctx, actor, channelID, func(c *Chan, rd *reads) (*plan, error) {
		old, err := rd.message(channelID, messageID)
		if err != nil {
			return nil, err
		}
		author := old.AuthorID == actor
		if !author && (mp.Content != nil || mp.Embeds != nil || mp.KeepAttachments != nil) {
			return nil, apierr.ErrNotAuthor
		}
		if !author && mp.Flags != nil && !c.Has(perm.ManageMessages) {
			return nil, apierr.ErrMissingPermissions
		}
		m := *old
		if mp.Content != nil {
			m.Content = *mp.Content
		}
		if mp.Embeds != nil {
			if len(*mp.Embeds) > 0 && !c.Has(perm.EmbedLinks) {
				return nil, apierr.ErrMissingPermissions
			}
			m.Embeds = *mp.Embeds
		}
		if mp.Flags != nil {
			m.Flags = *mp.Flags
		}
		if mp.KeepAttachments != nil {
			kept := m.Attachments[:0:0]
			for _, a := range old.Attachments {
				if hasID(*mp.KeepAttachments, a.ID) {
					kept = append(kept, a)
				}
			}
			m.Attachments = kept
		}
		if trimmedLen(m.Content) == 0 && len(m.Embeds) == 0 && len(m.Attachments) == 0 {
			return nil, apierr.ErrEmptyMessage
		}
		now := e.Now()
		m.EditedTimestamp = &now
		// The event carries the replied-to message, so that rendering
		// it (on every replica, as it applies) reads nothing.
		var target *model.Message
		if ref := m.MessageReference; ref != nil && m.Type == model.MessageReply {
			t, err := rd.lookup(channelID, ref.MessageID)
			if errors.Is(err, errMustRead) {
				return nil, err
			}
			if err == nil {
				target = t
			}
		}
		if mp.Content != nil {
			// A reply keeps pinging the author it answered if it did so.
			var replyAuthor ID
			if target != nil && hasID(old.Mentions, target.AuthorID) {
				replyAuthor = target.AuthorID
			}
			e.resolveMentions(c, &m, mp.AllowedMentions, replyAuthor)
		}
		out = &MessageEvent{Message: &m, Referenced: target}
		p := &plan{}
		p.op(store.Op{Kind: store.OpPutMessage, GuildID: m.GuildID, ChannelID: channelID, ID: m.ID, Message: &m})
		p.emit(Event{Type: "MESSAGE_UPDATE", GuildID: m.GuildID, ChannelID: channelID, UserIDs: c.Channel.Recipients, Data: out})
		return p, nil
	})
	return out, err
}

// DeleteMessage deletes a message: its author may, others need
// MANAGE_MESSAGES (never in DMs).
func (e *Engine) DeleteMessage(ctx context.Context, actor, channelID, messageID ID) error {
	return e.withChannelReads(ctx, actor, channelID, func(c *Chan, rd *reads) (*plan, error) {
		m, err := rd.message(channelID, messageID)
		if err != nil {
			return nil, err
		}
		if m.AuthorID != actor && (c.State == nil || !c.Has(perm.ManageMessages)) {
			return nil, apierr.ErrMissingPermissions
		}
		p := &plan{}
		deleteMessagePlan(p, c, m)
		return p, nil
	})
}

func deleteMessagePlan(p *plan, c *Chan, m *model.Message) {
	p.op(store.Op{Kind: store.OpDeleteMessage, GuildID: m.GuildID, ChannelID: m.ChannelID, ID: m.ID})
	p.emit(Event{Type: "MESSAGE_DELETE", GuildID: m.GuildID, ChannelID: m.ChannelID, UserIDs: c.Channel.Recipients,
		Data: &MessageDeleted{ID: m.ID, ChannelID: m.ChannelID, GuildID: m.GuildID}})
}

// BulkDelete deletes 2–100 messages younger than two weeks
// (MANAGE_MESSAGES). IDs that name no message are skipped.
func (e *Engine) BulkDelete(ctx context.Context, actor, channelID ID, ids []ID) error {
	if len(ids) < BulkMin || len(ids) > BulkMax {
		return apierr.ErrBulkCount
	}
	uniq := slices.Clone(ids)
	slices.Sort(uniq)
	uniq = slices.Compact(uniq)
	oldest := e.Now().Add(-BulkMaxAge)
	for _, id := range uniq {
		if id.Time().Before(oldest) {
			return apierr.ErrBulkTooOld
		}
	}
	return e.withChannelReads(ctx, actor, channelID, func(c *Chan, rd *reads) (*plan, error) {
		if c.State == nil {
			return nil, apierr.ErrDMChannel
		}
		if err := c.require(perm.ManageMessages); err != nil {
			return nil, err
		}
		p := &plan{}
		var deleted []ID
		for _, id := range uniq {
			// Every lookup is asked for before the first answer is
			// needed, so all are read in one round.
			if _, err := rd.lookup(channelID, id); err != nil {
				if errors.Is(err, store.ErrNotFound) || errors.Is(err, errMustRead) {
					continue
				}
				return nil, err
			}
			p.op(store.Op{Kind: store.OpDeleteMessage, GuildID: c.GuildID(), ChannelID: channelID, ID: id})
			deleted = append(deleted, id)
		}
		if len(deleted) > 0 {
			p.emit(Event{Type: "MESSAGE_DELETE_BULK", GuildID: c.GuildID(), ChannelID: channelID,
				Data: &MessagesDeleted{IDs: deleted, ChannelID: channelID, GuildID: c.GuildID()}})
		}
		return p, nil
	})
}

// Message reads one message (READ_MESSAGE_HISTORY).
func (e *Engine) Message(ctx context.Context, actor, channelID, messageID ID) (*model.Message, *Chan, error) {
	var cc *Chan
	err := e.ViewChannel(actor, channelID, func(c *Chan) error {
		cc = c.detached()
		return c.require(perm.ReadMessageHistory)
	})
	if err != nil {
		return nil, nil, err
	}
	if err := e.storeCaughtUp(ctx, channelID); err != nil {
		return nil, nil, err
	}
	m, err := e.loadMessage(ctx, channelID, messageID)
	return m, cc, err
}

// Messages reads a page of history. Without READ_MESSAGE_HISTORY the page
// is empty, as on Discord.
func (e *Engine) Messages(ctx context.Context, actor, channelID ID, q store.MessageQuery) ([]*model.Message, *Chan, error) {
	var cc *Chan
	err := e.ViewChannel(actor, channelID, func(c *Chan) error {
		cc = c.detached()
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if !cc.Has(perm.ReadMessageHistory) {
		return []*model.Message{}, cc, nil
	}
	msgs, err := e.history(ctx, channelID, q)
	return msgs, cc, err
}

// mayFillHot reports whether a store read can seed the channel's ring,
// and waits until it can: only where the store is known to hold
// everything applied, the leader of the channel's shard once its
// persister has caught up with the apply. A follower's store may lag its
// applied log by the leader's write.
func (e *Engine) mayFillHot(ctx context.Context, channelID ID) bool {
	if ok, _ := e.leads(e.shardOfChannel(channelID)); !ok {
		return false
	}
	return e.storeCaughtUp(ctx, channelID) == nil
}

// history reads a page, serving the latest page from the hot ring when it
// can and filling the ring on a miss.
func (e *Engine) history(ctx context.Context, channelID ID, q store.MessageQuery) ([]*model.Message, error) {
	if q.Before != 0 || q.After != 0 || q.Around != 0 {
		if err := e.storeCaughtUp(ctx, channelID); err != nil {
			return nil, err
		}
		return e.st.ListMessages(ctx, channelID, q)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	msgs, version, ok := e.hot.latest(channelID, limit)
	if ok {
		return msgs, nil
	}
	fill := e.mayFillHot(ctx, channelID) // before the read: it must see what the ring saw
	all, err := e.st.ListMessages(ctx, channelID, store.MessageQuery{Limit: hotCap})
	if err != nil {
		return nil, err
	}
	if fill {
		e.hot.fill(channelID, version, all, len(all) < hotCap)
	}
	if len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

// SetPinned pins or unpins a message (PIN_MESSAGES).
func (e *Engine) SetPinned(ctx context.Context, actor, channelID, messageID ID, pinned bool) error {
	return e.withChannelReads(ctx, actor, channelID, func(c *Chan, rd *reads) (*plan, error) {
		if err := c.require(perm.PinMessages); err != nil {
			return nil, err
		}
		m, err := rd.message(channelID, messageID)
		if err != nil {
			return nil, err
		}
		if m.Pinned == pinned {
			return nil, nil
		}
		if pinned {
			pins, err := rd.pinned(channelID)
			if err != nil {
				return nil, err
			}
			if len(pins) >= MaxPins {
				return nil, apierr.ErrMaxPins
			}
		}
		nm := *m
		nm.Pinned = pinned
		nc := *c.Channel
		now := e.Now()
		nm.PinnedAt = nil
		if pinned {
			nm.PinnedAt = &now
			nc.LastPinTimestamp = &now
		} else {
			// The channel's last pin is now the newest remaining one.
			pins, err := rd.pinned(channelID)
			if err != nil {
				return nil, err
			}
			nc.LastPinTimestamp = nil
			for _, pm := range pins {
				if pm.ID != nm.ID && pm.PinnedAt != nil && (nc.LastPinTimestamp == nil || pm.PinnedAt.After(*nc.LastPinTimestamp)) {
					at := *pm.PinnedAt
					nc.LastPinTimestamp = &at
				}
			}
		}
		p := &plan{}
		p.op(store.Op{Kind: store.OpPutMessage, GuildID: nm.GuildID, ChannelID: channelID, ID: nm.ID, Message: &nm})
		p.op(store.Op{Kind: store.OpPutChannel, GuildID: nc.GuildID, Channel: &nc})
		p.emit(Event{Type: "MESSAGE_UPDATE", GuildID: nm.GuildID, ChannelID: channelID, UserIDs: nc.Recipients, Data: &MessageEvent{Message: &nm}})
		p.emit(Event{Type: "CHANNEL_PINS_UPDATE", GuildID: nm.GuildID, ChannelID: channelID, UserIDs: nc.Recipients,
			Data: &PinsUpdated{GuildID: nm.GuildID, ChannelID: channelID, LastPinTimestamp: nc.LastPinTimestamp}})
		return p, nil
	})
}

// Pins lists a channel's pinned messages.
func (e *Engine) Pins(ctx context.Context, actor, channelID ID) ([]*model.Message, *Chan, error) {
	var cc *Chan
	if err := e.ViewChannel(actor, channelID, func(c *Chan) error { cc = c.detached(); return nil }); err != nil {
		return nil, nil, err
	}
	if !cc.Has(perm.ReadMessageHistory) {
		return []*model.Message{}, cc, nil
	}
	if err := e.storeCaughtUp(ctx, channelID); err != nil {
		return nil, nil, err
	}
	msgs, err := e.st.ListPins(ctx, channelID)
	if err != nil {
		return nil, nil, err
	}
	// The store lists pins by message; Discord lists the most recently
	// pinned first.
	slices.SortStableFunc(msgs, func(a, b *model.Message) int { return pinTime(b).Compare(pinTime(a)) })
	return msgs, cc, nil
}

// pinTime is when a message was pinned; the zero time, sorting last, if
// that was not recorded.
func pinTime(m *model.Message) time.Time {
	if m.PinnedAt == nil {
		return time.Time{}
	}
	return *m.PinnedAt
}

// Typing announces that the caller is typing (SEND_MESSAGES).
func (e *Engine) Typing(ctx context.Context, actor, channelID ID) error {
	return e.withChannel(ctx, actor, channelID, func(c *Chan) (*plan, error) {
		if err := c.require(perm.SendMessages); err != nil {
			return nil, err
		}
		p := &plan{}
		p.emit(Event{Type: "TYPING_START", GuildID: c.GuildID(), ChannelID: channelID, UserIDs: c.Channel.Recipients,
			Data: &Typing{ChannelID: channelID, GuildID: c.GuildID(), UserID: actor, Timestamp: e.Now().Unix()}})
		return p, nil
	})
}
