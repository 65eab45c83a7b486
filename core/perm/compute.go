package perm

import "github.com/accord-chat/accord/core/model"

// ID is a snowflake, as everywhere in Accord.
type ID = model.ID

// Discord channel types that model does not name. Only the ones whose
// permission handling differs are needed here.
const (
	chAnnouncementThread = 10
	chPublicThread       = 11
	chPrivateThread      = 12
	chStageVoice         = 13
)

// timedOutKeep is all a timed-out member keeps: they may still look, not act.
const timedOutKeep = ViewChannel | ReadMessageHistory

// sendDependents only make sense as part of sending a message, so Discord
// treats them as denied whenever the sending permission itself is missing.
const sendDependents = MentionEveryone | SendTTSMessages | AttachFiles | EmbedLinks

// voiceKeepWithoutConnect is what a voice or stage channel leaves a member
// who may not connect. The permissions page only says CONNECT "implicitly
// denies other permissions such as MANAGE_CHANNEL"; the message endpoints
// add that reading a voice channel's text chat needs CONNECT, and moving
// members into a channel needs CONNECT too. So nothing but seeing the
// channel (shown locked in the list) survives.
const voiceKeepWithoutConnect = ViewChannel

// Input is everything the computation looks at, in a form callers can fill
// from cached state without building model objects.
type Input struct {
	GuildID ID // also the ID of the @everyone role and of its overwrite
	OwnerID ID // zero means "unknown": nobody is treated as owner
	UserID  ID

	// Everyone is the @everyone role's guild-level permissions.
	Everyone uint64
	// RoleIDs are the member's roles, without @everyone; they select which
	// role overwrites apply.
	RoleIDs []ID
	// RolePerms are the guild-level permissions of the member's roles, in
	// any order. They need not line up with RoleIDs, so a caller may pass a
	// single pre-ORed value.
	RolePerms []uint64

	// Overwrites and ChannelType describe the channel for Compute and
	// InChannel; ComputeBase ignores them. For a thread pass the parent's
	// overwrites with the thread's own type: threads inherit the parent's
	// permissions.
	Overwrites  []model.Overwrite
	ChannelType int

	// TimedOut is true while the member's communication_disabled_until is
	// in the future.
	TimedOut bool
}

func (in *Input) isOwner() bool { return in.OwnerID != 0 && in.UserID == in.OwnerID }

// ComputeBase returns the member's guild-level permissions: the owner holds
// All; otherwise @everyone OR every role, and ADMINISTRATOR anywhere in that
// union expands to All. A timed-out member keeps only VIEW_CHANNEL and
// READ_MESSAGE_HISTORY, unless owner or administrator, whom Discord exempts.
func ComputeBase(in Input) uint64 {
	if in.isOwner() {
		return All
	}
	p := in.Everyone
	for _, rp := range in.RolePerms {
		p |= rp
	}
	if p&Administrator != 0 {
		return All
	}
	p &= All
	if in.TimedOut {
		p &= timedOutKeep
	}
	return p
}

// Compute returns the member's permissions in the channel described by
// in.Overwrites and in.ChannelType (no overwrites is a valid channel).
// It is ComputeBase followed by InChannel.
func Compute(in Input) uint64 {
	return InChannel(ComputeBase(in), in)
}

// InChannel applies a channel's overwrites and Discord's implicit rules to a
// guild-level set computed earlier by ComputeBase or ForMember, so that a
// fan-out over many channels computes the base once per member. Only the
// channel fields, GuildID, UserID, RoleIDs and TimedOut of in are read.
//
// Order, as documented by Discord: @everyone overwrite deny then allow; the
// deny union then the allow union of the member's role overwrites (so one
// role's allow beats another role's deny, regardless of role positions); the
// member's own overwrite deny then allow. ADMINISTRATOR in base short-cuts
// to All. Then:
//   - a timed-out member keeps only VIEW_CHANNEL and READ_MESSAGE_HISTORY;
//   - without VIEW_CHANNEL the channel is hidden and the result is 0;
//   - in voice and stage channels, without CONNECT only VIEW_CHANNEL is
//     left (see voiceKeepWithoutConnect);
//   - without SEND_MESSAGES (SEND_MESSAGES_IN_THREADS in a thread)
//     MENTION_EVERYONE, SEND_TTS_MESSAGES, ATTACH_FILES and EMBED_LINKS are
//     dropped. Categories hold no messages and are left alone.
//
// Overwrites can neither grant nor revoke ADMINISTRATOR: Discord decides it
// at guild level, and letting a channel overwrite set the bit would make
// Has(p, Administrator) lie to callers. Undefined bits are dropped.
//
// Private-thread membership is not a permission and is the caller's check.
func InChannel(base uint64, in Input) uint64 {
	if base&Administrator != 0 {
		return All
	}
	p := applyOverwrites(base, in.GuildID, in.UserID, in.RoleIDs, in.Overwrites)
	if in.TimedOut {
		// Before the implicit rules, so a timed-out member, who has no
		// CONNECT, is treated like anyone else without it in voice.
		p &= timedOutKeep
	}
	return implicit(p, in.ChannelType)
}

// applyOverwrites is the documented three-step overwrite application.
// Overwrites are matched on type as well as ID so that a member overwrite
// that happens to carry a role's ID (or the reverse) is ignored rather than
// misapplied. Duplicate entries for one target are unioned.
func applyOverwrites(p uint64, guildID, userID ID, roleIDs []ID, ows []model.Overwrite) uint64 {
	var everyAllow, everyDeny, roleAllow, roleDeny, memAllow, memDeny uint64
	for i := range ows {
		ow := &ows[i]
		switch ow.Type {
		case model.OverwriteRole:
			if ow.ID == guildID {
				everyAllow |= ow.Allow
				everyDeny |= ow.Deny
			} else if containsID(roleIDs, ow.ID) {
				roleAllow |= ow.Allow
				roleDeny |= ow.Deny
			}
		case model.OverwriteMember:
			if ow.ID == userID {
				memAllow |= ow.Allow
				memDeny |= ow.Deny
			}
		}
	}
	p = p&^everyDeny | everyAllow
	p = p&^roleDeny | roleAllow
	p = p&^memDeny | memAllow
	return p & (All &^ Administrator)
}

// implicit applies the rules Discord enforces without storing them as
// denies.
func implicit(p uint64, chType int) uint64 {
	if p&ViewChannel == 0 {
		return 0
	}
	switch chType {
	case model.ChannelGuildCategory:
		return p
	case model.ChannelGuildVoice, chStageVoice:
		if p&Connect == 0 {
			return p & voiceKeepWithoutConnect
		}
	}
	send := uint64(SendMessages)
	if isThread(chType) {
		send = SendMessagesInThreads
	}
	if p&send == 0 {
		p &^= sendDependents
	}
	return p
}

func isThread(t int) bool {
	return t == chAnnouncementThread || t == chPublicThread || t == chPrivateThread
}

func containsID(ids []ID, id ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// CanRead reports whether p, as returned by Compute for a channel of type
// chType, lets the member receive and fetch the channel's messages. Voice
// and stage channels need CONNECT as well as VIEW_CHANNEL for their text
// chat (Get Channel Messages says so), which VIEW_CHANNEL alone would miss.
// READ_MESSAGE_HISTORY is a separate check: without it the member sees new
// messages but not older ones.
func CanRead(p uint64, chType int) bool {
	switch chType {
	case model.ChannelGuildVoice, chStageVoice:
		return Has(p, ViewChannel|Connect)
	}
	return p&ViewChannel != 0
}

// ForMember is ComputeBase over model objects. roles maps role IDs to roles
// and should contain @everyone (ID == g.ID); roles the member lists but the
// map lacks (deleted meanwhile) grant nothing.
//
// TODO: model.Member has no communication_disabled_until yet, so timeouts
// are not applied here; callers that track them use ComputeBase with
// Input.TimedOut.
func ForMember(g *model.Guild, roles map[ID]*model.Role, m *model.Member) uint64 {
	if g.OwnerID != 0 && m.UserID == g.OwnerID {
		return All
	}
	var p uint64
	if r := roles[g.ID]; r != nil {
		p = r.Permissions
	}
	for _, id := range m.Roles {
		if r := roles[id]; r != nil {
			p |= r.Permissions
		}
	}
	if p&Administrator != 0 {
		return All
	}
	return p & All
}

// ForChannel is Compute over model objects; see ForMember for roles and
// the timeout caveat.
func ForChannel(g *model.Guild, roles map[ID]*model.Role, m *model.Member, ch *model.Channel) uint64 {
	return InChannel(ForMember(g, roles, m), Input{
		GuildID:     g.ID,
		UserID:      m.UserID,
		RoleIDs:     m.Roles,
		Overwrites:  ch.PermissionOverwrites,
		ChannelType: ch.Type,
	})
}
