package perm

import (
	"testing"

	"github.com/accord-chat/accord/core/model"
)

func TestHighestPosition(t *testing.T) {
	roles := map[ID]*model.Role{
		guildID: {ID: guildID, Position: 0},
		roleA:   {ID: roleA, Position: 1},
		roleB:   {ID: roleB, Position: 5},
		roleC:   {ID: roleC, Position: 3},
	}
	tests := []struct {
		name string
		ids  []ID
		want int
	}{
		{"no roles is @everyone's 0", nil, 0},
		{"one role", []ID{roleA}, 1},
		{"highest wins regardless of order", []ID{roleB, roleA, roleC}, 5},
		{"deleted role ignored", []ID{999, roleC}, 3},
		{"only deleted roles", []ID{999}, 0},
		{"@everyone listed explicitly", []ID{guildID}, 0},
	}
	for _, tt := range tests {
		if got := HighestPosition(roles, tt.ids); got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, got, tt.want)
		}
	}
	if got := HighestPosition(nil, []ID{roleA}); got != 0 {
		t.Errorf("nil map: %d", got)
	}
}

func TestCanManage(t *testing.T) {
	tests := []struct {
		name           string
		actor, target  int
		owner, canDoIt bool
	}{
		{"strictly above", 5, 3, false, true},
		{"equal is refused", 3, 3, false, false},
		{"below is refused", 2, 3, false, false},
		{"no roles vs no roles", 0, 0, false, false},
		{"role above @everyone-only member", 1, 0, false, true},
		{"owner over higher target", 0, 10, true, true},
		{"owner over equal target", 4, 4, true, true},
	}
	for _, tt := range tests {
		if got := CanManage(tt.actor, tt.target, tt.owner); got != tt.canDoIt {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
}

func TestCanChange(t *testing.T) {
	const mod = ViewChannel | SendMessages | ManageRoles | KickMembers
	tests := []struct {
		name                 string
		actor, before, after uint64
		want                 bool
	}{
		{"no change", mod, BanMembers, BanMembers, true},
		{"grant a held bit", mod, 0, KickMembers, true},
		{"grant an unheld bit", mod, 0, BanMembers, false},
		{"keep an unheld bit while granting a held one", mod, BanMembers, BanMembers | SendMessages, true},
		{"remove an unheld bit", mod, BanMembers, 0, true},
		{"grant administrator without holding it", mod, 0, Administrator, false},
		{"admin/owner may grant anything", All, 0, All, true},
	}
	for _, tt := range tests {
		if got := CanChange(tt.actor, tt.before, tt.after); got != tt.want {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
}
