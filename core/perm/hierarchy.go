package perm

import "github.com/accord-chat/accord/core/model"

// HighestPosition returns the position of the member's highest role, which
// is what Discord compares for hierarchy checks. A member with no roles (or
// only roles missing from the map) is at 0, @everyone's position.
func HighestPosition(roles map[ID]*model.Role, memberRoleIDs []ID) int {
	high := 0
	for _, id := range memberRoleIDs {
		if r := roles[id]; r != nil && r.Position > high {
			high = r.Position
		}
	}
	return high
}

// CanManage reports whether an actor whose highest role is at actorHighest
// may act on something at targetHighest. Discord requires the target to be
// strictly below the actor's highest role for:
//   - assigning or removing a role, editing it or moving it
//     (targetHighest = the role's position);
//   - kicking, banning, timing out or renaming a member
//     (targetHighest = HighestPosition of the target member).
//
// Equal positions are refused: Discord breaks such ties by role ID, which
// an int cannot express, and refusing is the safe side. The guild owner is
// above every role. The owner as a target is not handled here: nobody may
// kick, ban or time out the owner, and callers must check that first.
//
// The permission itself (MANAGE_ROLES, KICK_MEMBERS, ...) is a separate
// check; the hierarchy only narrows it.
func CanManage(actorHighest, targetHighest int, actorIsOwner bool) bool {
	return actorIsOwner || actorHighest > targetHighest
}

// CanChange reports whether an actor holding actor (guild-level, or the
// channel-level set when editing an overwrite) may turn a permission set
// from before into after. Discord's hierarchy rules say a member "can only
// grant permissions it has", so that MANAGE_ROLES cannot hand out powers
// the actor lacks; bits being removed, or kept as they were, are not
// checked. Owners and administrators hold All and may grant anything.
func CanChange(actor, before, after uint64) bool {
	return after&^before&^actor == 0
}
