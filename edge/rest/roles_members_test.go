package rest

// Tests of roles (with the role hierarchy), members, kicks, leaving and
// bans.

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/accord-chat/accord/core/perm"
)

// roleIDsOf returns a member's role IDs as the guild's owner sees them.
func (h *harness) roleIDsOf(owner user, gid, uid string) []string {
	h.t.Helper()
	m := h.must(200, h.do("GET", "/guilds/"+gid+"/members/"+uid, owner.Token, nil)).Obj()
	out := []string{}
	for _, r := range m["roles"].([]any) {
		out = append(out, r.(string))
	}
	slices.Sort(out)
	return out
}

// rolePositions maps role ID to position.
func (h *harness) rolePositions(u user, gid string) map[string]float64 {
	h.t.Helper()
	out := map[string]float64{}
	for _, r := range h.must(200, h.do("GET", "/guilds/"+gid+"/roles", u.Token, nil)).Arr() {
		out[asObj(r)["id"].(string)] = asObj(r)["position"].(float64)
	}
	return out
}

func TestCreateAndGetRoles(t *testing.T) {
	h := newHarness(t)
	owner := h.user("crowner")
	member := h.user("crmember")
	manager := h.user("crmanager")
	outsider := h.user("croutsider")
	gid, text, _ := h.guild(owner)
	h.join(owner, member, text)
	h.join(owner, manager, text)
	mgrRole := h.mkRole(owner, gid, "managers", perm.ManageRoles)
	h.giveRole(owner, gid, manager.ID, mgrRole)

	type tcase struct {
		name   string
		actor  user
		body   any
		status int
		code   int
		field  string
		fcode  string
		check  func(r map[string]any) bool
	}
	cases := []tcase{
		{name: "every field", actor: owner, body: map[string]any{"name": " Mods ", "permissions": permStr(perm.ManageMessages | perm.KickMembers), "color": 0xff0000, "hoist": true, "mentionable": true}, status: 200,
			check: func(r map[string]any) bool {
				return r["name"] == "Mods" && r["permissions"] == permStr(perm.ManageMessages|perm.KickMembers) && r["color"] == float64(0xff0000) &&
					r["hoist"] == true && r["mentionable"] == true
			}},
		{name: "defaults", actor: owner, body: map[string]any{}, status: 200,
			check: func(r map[string]any) bool {
				return r["name"] == "new role" && r["permissions"] == permStr(perm.DefaultEveryone) && r["color"] == 0.0 && r["hoist"] == false
			}},
		{name: "numeric permissions", actor: owner, body: map[string]any{"name": "num", "permissions": 8}, status: 200,
			check: func(r map[string]any) bool { return r["permissions"] == "8" }},
		{name: "undefined bits dropped", actor: owner, body: map[string]any{"name": "masked", "permissions": permStr(1<<47 | perm.SendMessages)}, status: 200,
			check: func(r map[string]any) bool { return r["permissions"] == permStr(perm.SendMessages) }},
		{name: "manager grants what it has", actor: manager, body: map[string]any{"name": "helpers", "permissions": permStr(perm.ManageRoles | perm.SendMessages)}, status: 200,
			check: func(r map[string]any) bool { return r["permissions"] == permStr(perm.ManageRoles|perm.SendMessages) }},
		{name: "name too long", actor: owner, body: map[string]any{"name": strings.Repeat("r", 101)}, field: "name", fcode: "BASE_TYPE_MAX_LENGTH"},
		{name: "negative color", actor: owner, body: map[string]any{"color": -1}, field: "color", fcode: "BASE_TYPE_BAD_INT"},
		{name: "color too big", actor: owner, body: map[string]any{"color": 0x1000000}, field: "color", fcode: "BASE_TYPE_BAD_INT"},
		{name: "permissions not a number", actor: owner, body: map[string]any{"permissions": "all"}, field: "permissions", fcode: "NUMBER_TYPE_COERCE"},
		{name: "name wrong type", actor: owner, body: map[string]any{"name": 1}, field: "name", fcode: "BASE_TYPE_STRING"},
		{name: "hoist wrong type", actor: owner, body: map[string]any{"hoist": "yes"}, field: "hoist", fcode: "BASE_TYPE_BOOLEAN"},
		{name: "malformed", actor: owner, body: `{"name": "x"}}`, status: 400, code: 50109},
		{name: "member without MANAGE_ROLES", actor: member, body: map[string]any{"name": "mine"}, status: 403, code: 50013},
		{name: "manager grants ADMINISTRATOR", actor: manager, body: map[string]any{"name": "admins", "permissions": permStr(perm.Administrator)}, status: 403, code: 50013},
		{name: "manager grants BAN_MEMBERS", actor: manager, body: map[string]any{"name": "banners", "permissions": permStr(perm.BanMembers)}, status: 403, code: 50013},
		{name: "non-member", actor: outsider, body: map[string]any{"name": "mine"}, status: 404, code: 10004},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			before := h.rolePositions(owner, gid)
			r := h.do("POST", "/guilds/"+gid+"/roles", tc.actor.Token, tc.body)
			switch {
			case tc.field != "":
				h.wantFormErr(r, tc.field, tc.fcode)
			case tc.status != 200:
				h.wantErr(r, tc.status, tc.code)
			default:
				h.must(200, r)
				m := r.Obj()
				id := h.wantSnowflake("id", m["id"])
				h.wantPermString("permissions", m["permissions"])
				if m["position"] != 1.0 || m["managed"] != false || !tc.check(m) {
					t.Fatalf("created %s", r.Body)
				}
				if v, ok := m["icon"]; !ok || v != nil {
					t.Fatalf("icon = %v", v)
				}
				// The new role sits just above @everyone; the others moved up.
				after := h.rolePositions(owner, gid)
				if len(after) != len(before)+1 || after[id] != 1 || after[gid] != 0 {
					t.Fatalf("positions %v", after)
				}
				for rid, p := range before {
					if rid != gid && after[rid] != p+1 {
						t.Fatalf("role %s at %v, was %v", rid, after[rid], p)
					}
				}
				if got := h.must(200, h.do("GET", "/guilds/"+gid+"/roles/"+id, member.Token, nil)); !tc.check(got.Obj()) {
					t.Fatalf("GET role = %s", got.Body)
				}
				return
			}
			if after := h.rolePositions(owner, gid); len(after) != len(before) {
				t.Fatalf("failed create made a role: %v", after)
			}
		})
	}
	h.t = t
	h.wantErr(h.do("POST", "/guilds/"+gid+"/roles", "", map[string]any{}), 401, 0)

	// The list is sorted by position, @everyone first.
	list := h.must(200, h.reqV("/api/v9", "GET", "/guilds/"+gid+"/roles", member.Token, nil, nil)).Arr()
	if asObj(list[0])["id"] != gid {
		t.Fatalf("first role %v", list[0])
	}
	if !slices.IsSortedFunc(list, func(a, b any) int {
		return cmp.Compare(asObj(a)["position"].(float64), asObj(b)["position"].(float64))
	}) {
		t.Fatalf("roles not sorted: %v", list)
	}
	h.wantErr(h.do("GET", "/guilds/"+gid+"/roles/"+mgrRole, outsider.Token, nil), 404, 10004)
	h.wantErr(h.do("GET", "/guilds/"+gid+"/roles/777", member.Token, nil), 404, 10011)
	h.wantFormErr(h.do("GET", "/guilds/"+gid+"/roles/top", member.Token, nil), "role_id", "NUMBER_TYPE_COERCE")
	h.wantErr(h.do("GET", "/guilds/"+gid+"/roles/"+mgrRole, "", nil), 401, 0)
}

func TestRoleHierarchy(t *testing.T) {
	h := newHarness(t)
	owner := h.user("rhowner")
	manager := h.user("rhmanager")
	topUser := h.user("rhtop")
	member := h.user("rhmember")
	outsider := h.user("rhoutsider")
	gid, text, _ := h.guild(owner)
	for _, u := range []user{manager, topUser, member} {
		h.join(owner, u, text)
	}
	// New roles go in at position 1, so create from the top down.
	top := h.mkRole(owner, gid, "top", perm.ManageRoles|perm.KickMembers)
	mid := h.mkRole(owner, gid, "managers", perm.ManageRoles)
	low := h.mkRole(owner, gid, "low", 0)
	if p := h.rolePositions(owner, gid); p[low] != 1 || p[mid] != 2 || p[top] != 3 {
		t.Fatalf("positions %v", p)
	}
	h.giveRole(owner, gid, manager.ID, mid)
	h.giveRole(owner, gid, topUser.ID, top)

	type tcase struct {
		name   string
		actor  user
		role   string
		body   any
		status int
		code   int
		field  string
		check  func(r map[string]any) bool
	}
	cases := []tcase{
		{name: "manager renames a lower role", actor: manager, role: low, body: map[string]any{"name": "lower", "color": 255}, status: 200,
			check: func(r map[string]any) bool {
				return r["name"] == "lower" && r["color"] == 255.0 && r["position"] == 1.0
			}},
		{name: "manager grants a bit it has", actor: manager, role: low, body: map[string]any{"permissions": permStr(perm.ManageRoles | perm.SendMessages)}, status: 200,
			check: func(r map[string]any) bool { return r["permissions"] == permStr(perm.ManageRoles|perm.SendMessages) }},
		{name: "owner grants anything", actor: owner, role: low, body: map[string]any{"permissions": permStr(perm.BanMembers)}, status: 200,
			check: func(r map[string]any) bool { return r["permissions"] == permStr(perm.BanMembers) }},
		{name: "manager removes a bit it lacks", actor: manager, role: low, body: map[string]any{"permissions": "0"}, status: 200,
			check: func(r map[string]any) bool { return r["permissions"] == "0" }},
		{name: "@everyone keeps its name", actor: owner, role: gid, body: map[string]any{"name": "all", "permissions": permStr(perm.DefaultEveryone)}, status: 200,
			check: func(r map[string]any) bool { return r["name"] == "@everyone" && r["position"] == 0.0 }},
		{name: "manager grants a bit it lacks", actor: manager, role: low, body: map[string]any{"permissions": permStr(perm.BanMembers)}, status: 403, code: 50013},
		{name: "manager edits its own top role", actor: manager, role: mid, body: map[string]any{"name": "bosses"}, status: 403, code: 50013},
		{name: "manager edits a higher role", actor: manager, role: top, body: map[string]any{"color": 1}, status: 403, code: 50013},
		{name: "manager gives @everyone ADMINISTRATOR", actor: manager, role: gid, body: map[string]any{"permissions": permStr(perm.DefaultEveryone | perm.Administrator)}, status: 403, code: 50013},
		{name: "member without MANAGE_ROLES", actor: member, role: low, body: map[string]any{"name": "mine"}, status: 403, code: 50013},
		{name: "non-member", actor: outsider, role: low, body: map[string]any{"name": "mine"}, status: 404, code: 10004},
		{name: "unknown role", actor: owner, role: "31337", body: map[string]any{"name": "x"}, status: 404, code: 10011},
		{name: "bad color", actor: manager, role: low, body: map[string]any{"color": 1 << 24}, field: "color"},
		{name: "name too long", actor: owner, role: low, body: map[string]any{"name": strings.Repeat("x", 101)}, field: "name"},
		{name: "permissions wrong type", actor: owner, role: low, body: map[string]any{"permissions": true}, field: "permissions"},
		{name: "malformed", actor: owner, role: low, body: `{"name"}`, status: 400, code: 50109},
	}
	for _, tc := range cases {
		t.Run("modify/"+tc.name, func(t *testing.T) {
			h.t = t
			var before []byte
			if tc.status != 404 {
				before = h.must(200, h.do("GET", "/guilds/"+gid+"/roles/"+tc.role, owner.Token, nil)).Body
			}
			r := h.do("PATCH", "/guilds/"+gid+"/roles/"+tc.role, tc.actor.Token, tc.body)
			switch {
			case tc.field != "":
				h.wantFormErr(r, tc.field, "")
			case tc.status != 200:
				h.wantErr(r, tc.status, tc.code)
			default:
				h.must(200, r)
				if r.Str("id") != tc.role || !tc.check(r.Obj()) {
					t.Fatalf("PATCH = %s", r.Body)
				}
				if got := h.must(200, h.do("GET", "/guilds/"+gid+"/roles/"+tc.role, member.Token, nil)); !tc.check(got.Obj()) {
					t.Fatalf("GET after PATCH = %s", got.Body)
				}
				return
			}
			if before != nil {
				if after := h.must(200, h.do("GET", "/guilds/"+gid+"/roles/"+tc.role, owner.Token, nil)).Body; !bytes.Equal(before, after) {
					t.Fatalf("failed PATCH changed the role:\n%s\n%s", before, after)
				}
			}
		})
	}
	h.t = t
	h.wantErr(h.do("PATCH", "/guilds/"+gid+"/roles/"+low, "", map[string]any{"name": "x"}), 401, 0)

	// Positions.
	patchPos := func(actor user, body any) resp { return h.do("PATCH", "/guilds/"+gid+"/roles", actor.Token, body) }
	r := h.must(200, patchPos(owner, []any{map[string]any{"id": low, "position": 2}, map[string]any{"id": mid, "position": 1}}))
	if arr := r.Arr(); len(arr) != 4 || asObj(arr[0])["id"] != gid {
		t.Fatalf("positions answer %s", r.Body)
	}
	if p := h.rolePositions(owner, gid); p[low] != 2 || p[mid] != 1 || p[top] != 3 {
		t.Fatalf("positions %v", p)
	}
	// The manager's top role is now at 1: "low" at 2 is out of its reach.
	h.wantErr(h.do("PATCH", "/guilds/"+gid+"/roles/"+low, manager.Token, map[string]any{"name": "x"}), 403, 50013)
	h.must(200, patchPos(owner, []any{map[string]any{"id": low, "position": 1}, map[string]any{"id": mid, "position": 2}}))
	h.must(200, h.reqV("/api/v9", "PATCH", "/guilds/"+gid+"/roles", manager.Token, []any{map[string]any{"id": low, "position": 1}}, nil))

	before := h.rolePositions(owner, gid)
	posCases := []struct {
		name   string
		actor  user
		body   any
		status int
		code   int
		field  string
		fcode  string
	}{
		{name: "manager moves a role up to its own", actor: manager, body: []any{map[string]any{"id": low, "position": 2}}, status: 403, code: 50013},
		{name: "manager moves its own top role", actor: manager, body: []any{map[string]any{"id": mid, "position": 1}}, status: 403, code: 50013},
		{name: "manager moves a higher role", actor: manager, body: []any{map[string]any{"id": top, "position": 1}}, status: 403, code: 50013},
		{name: "member", actor: member, body: []any{map[string]any{"id": low, "position": 1}}, status: 403, code: 50013},
		{name: "non-member", actor: outsider, body: []any{map[string]any{"id": low, "position": 1}}, status: 404, code: 10004},
		{name: "unknown role", actor: owner, body: []any{map[string]any{"id": "999", "position": 1}}, field: "0.id", fcode: "ROLE_INVALID"},
		{name: "@everyone", actor: owner, body: []any{map[string]any{"id": low, "position": 1}, map[string]any{"id": gid, "position": 2}}, field: "1.id", fcode: "ROLE_INVALID"},
		{name: "position 0", actor: owner, body: []any{map[string]any{"id": low, "position": 0}}, field: "0.position", fcode: "BASE_TYPE_BAD_INT"},
		{name: "object body", actor: owner, body: map[string]any{"id": low, "position": 1}, field: "_root", fcode: "BASE_TYPE_ARRAY"},
		{name: "malformed", actor: owner, body: `[{"id": "1"`, status: 400, code: 50109},
	}
	for _, tc := range posCases {
		t.Run("positions/"+tc.name, func(t *testing.T) {
			h.t = t
			r := patchPos(tc.actor, tc.body)
			if tc.field != "" {
				h.wantFormErr(r, tc.field, tc.fcode)
			} else {
				h.wantErr(r, tc.status, tc.code)
			}
			if after := h.rolePositions(owner, gid); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("failed PATCH moved roles: %v -> %v", before, after)
			}
		})
	}
	h.t = t

	// Delete.
	spare := h.mkRole(owner, gid, "spare", 0)
	h.giveRole(owner, gid, member.ID, spare)
	h.must(204, h.do("PUT", "/channels/"+text+"/permissions/"+spare, owner.Token, map[string]any{"type": 0, "deny": permStr(perm.AddReactions)}))
	h.wantErr(h.do("DELETE", "/guilds/"+gid+"/roles/"+top, manager.Token, nil), 403, 50013)
	h.wantErr(h.do("DELETE", "/guilds/"+gid+"/roles/"+mid, manager.Token, nil), 403, 50013)
	h.wantErr(h.do("DELETE", "/guilds/"+gid+"/roles/"+spare, member.Token, nil), 403, 50013)
	h.wantErr(h.do("DELETE", "/guilds/"+gid+"/roles/"+spare, outsider.Token, nil), 404, 10004)
	h.wantFormErr(h.do("DELETE", "/guilds/"+gid+"/roles/"+gid, owner.Token, nil), "role_id", "")
	h.wantFormErr(h.do("DELETE", "/guilds/"+gid+"/roles/spare", owner.Token, nil), "role_id", "")
	h.wantErr(h.do("DELETE", "/guilds/"+gid+"/roles/4242", owner.Token, nil), 404, 10011)
	h.must(204, h.do("DELETE", "/guilds/"+gid+"/roles/"+spare, manager.Token, nil))
	h.wantErr(h.do("GET", "/guilds/"+gid+"/roles/"+spare, owner.Token, nil), 404, 10011)
	h.wantErr(h.do("DELETE", "/guilds/"+gid+"/roles/"+spare, owner.Token, nil), 404, 10011)
	if got := h.roleIDsOf(owner, gid, member.ID); len(got) != 0 {
		t.Fatalf("member keeps deleted role: %v", got)
	}
	ows, _ := h.must(200, h.do("GET", "/channels/"+text, owner.Token, nil)).Obj()["permission_overwrites"].([]any)
	for _, ow := range ows {
		if asObj(ow)["id"] == spare {
			t.Fatalf("overwrite of deleted role survives: %v", ow)
		}
	}
	h.must(204, h.do("DELETE", "/guilds/"+gid+"/roles/"+top, owner.Token, nil))
}

func TestListMembers(t *testing.T) {
	h := newHarness(t)
	owner := h.user("lmowner")
	outsider := h.user("lmoutsider")
	gid, text, _ := h.guild(owner)
	want := []string{owner.ID}
	for i := 0; i < 30; i++ {
		u := h.user("lmjoiner")
		h.join(owner, u, text)
		want = append(want, u.ID)
	}
	slices.SortFunc(want, func(a, b string) int {
		x, _ := strconv.ParseUint(a, 10, 64)
		y, _ := strconv.ParseUint(b, 10, 64)
		return cmp.Compare(x, y)
	})
	list := func(q string) []any {
		return h.must(200, h.do("GET", "/guilds/"+gid+"/members?"+q, owner.Token, nil)).Arr()
	}
	userIDs := func(arr []any) []string {
		out := []string{}
		for _, m := range arr {
			out = append(out, asObj(asObj(m)["user"])["id"].(string))
		}
		return out
	}
	if got := userIDs(list("")); !slices.Equal(got, want[:1]) {
		t.Fatalf("default page %v, want %v", got, want[:1])
	}
	all := list("limit=1000")
	if got := userIDs(all); !slices.Equal(got, want) {
		t.Fatalf("all members %v, want %v", got, want)
	}
	for _, v := range all {
		m := asObj(v)
		u := asObj(m["user"])
		h.wantSnowflake("user.id", u["id"])
		h.wantISOTime("joined_at", m["joined_at"])
		if u["username"] == "" || m["deaf"] != false || m["mute"] != false {
			t.Fatalf("member = %v", m)
		}
		if roles, ok := m["roles"].([]any); !ok || len(roles) != 0 {
			t.Fatalf("roles = %v", m["roles"])
		}
		if v, ok := m["nick"]; !ok || v != nil {
			t.Fatalf("nick = %v", v)
		}
	}
	// Walk the list in pages of 7.
	var walked []string
	after := "0"
	for page := 0; page < 10; page++ {
		got := userIDs(list("limit=7&after=" + after))
		if len(got) == 0 {
			break
		}
		if len(got) > 7 {
			t.Fatalf("page of %d", len(got))
		}
		walked = append(walked, got...)
		after = got[len(got)-1]
	}
	if !slices.Equal(walked, want) {
		t.Fatalf("walked %v, want %v", walked, want)
	}
	if got := userIDs(list("limit=3&after=" + want[28])); !slices.Equal(got, want[29:]) {
		t.Fatalf("tail %v, want %v", got, want[29:])
	}
	if got := h.must(200, h.reqV("/api/v9", "GET", "/guilds/"+gid+"/members?limit=5&after="+want[10], owner.Token, nil, nil)).Arr(); !slices.Equal(userIDs(got), want[11:16]) {
		t.Fatalf("v9 page %v", userIDs(got))
	}
	for q, field := range map[string]string{"limit=0": "limit", "limit=1001": "limit", "limit=ten": "limit", "after=me": "after"} {
		h.wantFormErr(h.do("GET", "/guilds/"+gid+"/members?"+q, owner.Token, nil), field, "")
	}
	h.wantErr(h.do("GET", "/guilds/"+gid+"/members", outsider.Token, nil), 404, 10004)
	h.wantErr(h.do("GET", "/guilds/"+gid+"/members", "", nil), 401, 0)
}

func TestGetAndSearchMembers(t *testing.T) {
	h := newHarness(t)
	owner := h.user("gmowner")
	outsider := h.user("gmoutsider")
	gid, text, _ := h.guild(owner)
	alpha1, alpha2, beta := h.user("srchalpha"), h.user("srchalpha"), h.user("srchbeta")
	for _, u := range []user{alpha1, alpha2, beta} {
		h.join(owner, u, text)
	}
	h.must(200, h.do("PATCH", "/guilds/"+gid+"/members/@me", beta.Token, map[string]any{"nick": "Zebra"}))

	m := h.must(200, h.do("GET", "/guilds/"+gid+"/members/"+alpha1.ID, beta.Token, nil)).Obj()
	if asObj(m["user"])["id"] != alpha1.ID || asObj(m["user"])["username"] != alpha1.Name {
		t.Fatalf("member = %v", m)
	}
	h.wantISOTime("joined_at", m["joined_at"])
	if me := h.must(200, h.do("GET", "/guilds/"+gid+"/members/@me", beta.Token, nil)).Obj(); asObj(me["user"])["id"] != beta.ID || me["nick"] != "Zebra" {
		t.Fatalf("@me member = %v", me)
	}
	h.wantErr(h.do("GET", "/guilds/"+gid+"/members/"+outsider.ID, owner.Token, nil), 404, 10007)
	h.wantErr(h.do("GET", "/guilds/"+gid+"/members/"+alpha1.ID, outsider.Token, nil), 404, 10004)
	h.wantFormErr(h.do("GET", "/guilds/"+gid+"/members/alpha", owner.Token, nil), "user_id", "NUMBER_TYPE_COERCE")
	h.wantErr(h.do("GET", "/guilds/"+gid+"/members/"+alpha1.ID, "", nil), 401, 0)

	search := func(q string) []string {
		out := []string{}
		for _, v := range h.must(200, h.do("GET", "/guilds/"+gid+"/members/search?"+q, alpha1.Token, nil)).Arr() {
			out = append(out, asObj(asObj(v)["user"])["id"].(string))
		}
		slices.Sort(out)
		return out
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	cases := []struct {
		query string
		want  []string
	}{
		{"query=srchalpha&limit=10", sorted(alpha1.ID, alpha2.ID)},
		{"query=SRCHALPHA&limit=10", sorted(alpha1.ID, alpha2.ID)},
		{"query=srch&limit=10", sorted(alpha1.ID, alpha2.ID, beta.ID)},
		{"query=zeb&limit=10", sorted(beta.ID)},
		{"query=srchbeta", sorted(beta.ID)},
		{"query=nobody&limit=10", []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			h.t = t
			if got := search(tc.query); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	h.t = t
	if got := search("query=srch"); len(got) != 1 {
		t.Fatalf("default limit gave %v", got)
	}
	h.wantFormErr(h.do("GET", "/guilds/"+gid+"/members/search", owner.Token, nil), "query", "BASE_TYPE_REQUIRED")
	h.wantFormErr(h.do("GET", "/guilds/"+gid+"/members/search?query=a&limit=1001", owner.Token, nil), "limit", "")
	h.wantErr(h.do("GET", "/guilds/"+gid+"/members/search?query=srch", outsider.Token, nil), 404, 10004)
}

func TestModifyMember(t *testing.T) {
	h := newHarness(t)
	owner := h.user("mmowner")
	plain := h.user("mmplain")
	mod := h.user("mmmod")
	peer := h.user("mmpeer")
	outsider := h.user("mmoutsider")
	gid, text, _ := h.guild(owner)
	for _, u := range []user{plain, mod, peer} {
		h.join(owner, u, text)
	}
	mods := h.mkRole(owner, gid, "mods", perm.ManageNicknames|perm.ManageRoles|perm.MuteMembers)
	low := h.mkRole(owner, gid, "low", 0)
	h.giveRole(owner, gid, mod.ID, mods)
	h.giveRole(owner, gid, peer.ID, mods)
	long := strings.Repeat("n", 33)

	type tcase struct {
		name   string
		actor  user
		path   string // member path segment
		target user
		body   any
		status int
		code   int
		field  string
		check  func(m map[string]any) bool
	}
	nick := func(want any) func(m map[string]any) bool {
		return func(m map[string]any) bool { v, ok := m["nick"]; return ok && v == want }
	}
	cases := []tcase{
		{name: "own nick via @me", actor: plain, path: "@me", target: plain, body: map[string]any{"nick": "Plainy"}, status: 200, check: nick("Plainy")},
		{name: "own nick via id", actor: plain, path: plain.ID, target: plain, body: map[string]any{"nick": "Plain2"}, status: 200, check: nick("Plain2")},
		{name: "own nick cleared with empty", actor: plain, path: "@me", target: plain, body: map[string]any{"nick": ""}, status: 200, check: nick(nil)},
		{name: "mod renames a member", actor: mod, path: plain.ID, target: plain, body: map[string]any{"nick": "Renamed"}, status: 200, check: nick("Renamed")},
		{name: "mod clears with null", actor: mod, path: plain.ID, target: plain, body: map[string]any{"nick": nil}, status: 200, check: nick(nil)},
		{name: "owner renames a mod", actor: owner, path: mod.ID, target: mod, body: map[string]any{"nick": "Boss"}, status: 200, check: nick("Boss")},
		{name: "owner sets roles", actor: owner, path: plain.ID, target: plain, body: map[string]any{"roles": []string{low}}, status: 200,
			check: func(m map[string]any) bool { r, _ := m["roles"].([]any); return len(r) == 1 && r[0] == low }},
		{name: "mod removes a lower role", actor: mod, path: plain.ID, target: plain, body: map[string]any{"roles": []string{}}, status: 200,
			check: func(m map[string]any) bool { r, _ := m["roles"].([]any); return r != nil && len(r) == 0 }},
		{name: "mod mutes", actor: mod, path: plain.ID, target: plain, body: map[string]any{"mute": true}, status: 200,
			check: func(m map[string]any) bool { return m["mute"] == true && m["deaf"] == false }},
		{name: "member renames another", actor: plain, path: mod.ID, target: mod, body: map[string]any{"nick": "mine"}, status: 403, code: 50013},
		{name: "mod renames a peer", actor: mod, path: peer.ID, target: peer, body: map[string]any{"nick": "peer"}, status: 403, code: 50013},
		{name: "mod renames the owner", actor: mod, path: owner.ID, target: owner, body: map[string]any{"nick": "owner"}, status: 403, code: 50013},
		{name: "member sets roles", actor: plain, path: plain.ID, target: plain, body: map[string]any{"roles": []string{low}}, status: 403, code: 50013},
		{name: "mod grants its own top role", actor: mod, path: plain.ID, target: plain, body: map[string]any{"roles": []string{low, mods}}, status: 403, code: 50013},
		{name: "mod takes a peer's top role", actor: mod, path: peer.ID, target: peer, body: map[string]any{"roles": []string{}}, status: 403, code: 50013},
		{name: "mod deafens without DEAFEN_MEMBERS", actor: mod, path: plain.ID, target: plain, body: map[string]any{"deaf": true}, status: 403, code: 50013},
		{name: "member mutes", actor: plain, path: mod.ID, target: mod, body: map[string]any{"mute": true}, status: 403, code: 50013},
		{name: "member sends another an empty patch", actor: plain, path: mod.ID, target: mod, body: map[string]any{}, status: 403, code: 50013},
		{name: "member sends another only unknown fields", actor: plain, path: mod.ID, target: mod, body: map[string]any{"flags": 0, "avatar": nil}, status: 403, code: 50013},
		{name: "mod sends an empty patch", actor: mod, path: plain.ID, target: plain, body: map[string]any{}, status: 200,
			check: func(m map[string]any) bool { return true }},
		{name: "nick too long", actor: owner, path: plain.ID, target: plain, body: map[string]any{"nick": long}, field: "nick"},
		{name: "own nick too long", actor: plain, path: "@me", target: plain, body: map[string]any{"nick": long}, field: "nick"},
		{name: "nick wrong type", actor: owner, path: plain.ID, target: plain, body: map[string]any{"nick": 3}, field: "nick"},
		{name: "@everyone in roles", actor: owner, path: plain.ID, target: plain, body: map[string]any{"roles": []string{gid}}, field: "roles.0"},
		{name: "unknown role", actor: owner, path: plain.ID, target: plain, body: map[string]any{"roles": []string{low, "123"}}, field: "roles.1"},
		{name: "roles wrong type", actor: owner, path: plain.ID, target: plain, body: map[string]any{"roles": "low"}, field: "roles"},
		{name: "malformed", actor: owner, path: plain.ID, target: plain, body: `{"nick": "x"`, status: 400, code: 50109},
		{name: "unknown member", actor: owner, path: outsider.ID, target: outsider, body: map[string]any{"nick": "x"}, status: 404, code: 10007},
		{name: "non-member", actor: outsider, path: plain.ID, target: plain, body: map[string]any{"nick": "x"}, status: 404, code: 10004},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			var before []byte
			if tc.status != 404 {
				before = h.must(200, h.do("GET", "/guilds/"+gid+"/members/"+tc.target.ID, owner.Token, nil)).Body
			}
			r := h.do("PATCH", "/guilds/"+gid+"/members/"+tc.path, tc.actor.Token, tc.body)
			switch {
			case tc.field != "":
				h.wantFormErr(r, tc.field, "")
			case tc.status != 200:
				h.wantErr(r, tc.status, tc.code)
			default:
				h.must(200, r)
				if asObj(r.Obj()["user"])["id"] != tc.target.ID || !tc.check(r.Obj()) {
					t.Fatalf("PATCH = %s", r.Body)
				}
				if got := h.must(200, h.do("GET", "/guilds/"+gid+"/members/"+tc.target.ID, plain.Token, nil)); !tc.check(got.Obj()) {
					t.Fatalf("GET after PATCH = %s", got.Body)
				}
				return
			}
			if before != nil {
				if after := h.must(200, h.do("GET", "/guilds/"+gid+"/members/"+tc.target.ID, owner.Token, nil)).Body; !bytes.Equal(before, after) {
					t.Fatalf("failed PATCH changed the member:\n%s\n%s", before, after)
				}
			}
		})
	}
	h.t = t
	h.wantErr(h.do("PATCH", "/guilds/"+gid+"/members/"+plain.ID, "", map[string]any{"nick": "x"}), 401, 0)
	h.wantFormErr(h.do("PATCH", "/guilds/"+gid+"/members/plain", owner.Token, map[string]any{"nick": "x"}), "user_id", "")

	// Without CHANGE_NICKNAME a member cannot rename itself; with
	// MANAGE_NICKNAMES a moderator still can.
	h.setEveryone(owner, gid, perm.DefaultEveryone&^perm.ChangeNickname)
	h.wantErr(h.do("PATCH", "/guilds/"+gid+"/members/@me", plain.Token, map[string]any{"nick": "Self"}), 403, 50013)
	h.wantErr(h.do("PATCH", "/guilds/"+gid+"/members/"+plain.ID, plain.Token, map[string]any{"nick": "Self"}), 403, 50013)
	if got := h.must(200, h.reqV("/api/v9", "PATCH", "/guilds/"+gid+"/members/@me", mod.Token, map[string]any{"nick": "Self Mod"}, nil)).Obj()["nick"]; got != "Self Mod" {
		t.Fatalf("mod self nick = %v", got)
	}
	h.setEveryone(owner, gid, perm.DefaultEveryone)
	h.must(200, h.do("PATCH", "/guilds/"+gid+"/members/@me", plain.Token, map[string]any{"nick": "Self"}))
}

func TestMemberRoleAddRemove(t *testing.T) {
	h := newHarness(t)
	owner := h.user("mrowner")
	plain := h.user("mrplain")
	mgr := h.user("mrmgr")
	outsider := h.user("mroutsider")
	gid, text, _ := h.guild(owner)
	h.join(owner, plain, text)
	h.join(owner, mgr, text)
	high := h.mkRole(owner, gid, "high", 0)
	mgrs := h.mkRole(owner, gid, "managers", perm.ManageRoles)
	low := h.mkRole(owner, gid, "low", 0)
	h.giveRole(owner, gid, mgr.ID, mgrs)
	bot := h.bot(owner, "Role Bot")
	h.must(200, h.do("POST", "/oauth2/authorize?client_id="+bot.ID+"&scope=bot&permissions="+permStr(perm.SendMessages), owner.Token,
		map[string]any{"guild_id": gid, "authorize": true}))
	botRoles := h.roleIDsOf(owner, gid, bot.ID)
	if len(botRoles) != 1 {
		t.Fatalf("bot roles %v", botRoles)
	}
	managed := botRoles[0]

	// A role of another guild is unknown here.
	otherGid, _, _ := h.guild(owner)
	foreign := h.mkRole(owner, otherGid, "foreign", 0)

	path := func(uid, rid string) string { return "/guilds/" + gid + "/members/" + uid + "/roles/" + rid }
	h.must(204, h.do("PUT", path(plain.ID, low), mgr.Token, nil))
	if got := h.roleIDsOf(owner, gid, plain.ID); !slices.Equal(got, []string{low}) {
		t.Fatalf("roles %v", got)
	}
	h.must(204, h.do("PUT", path(plain.ID, low), mgr.Token, nil)) // already held
	h.must(204, h.do("PUT", path(plain.ID, high), owner.Token, nil))
	if got := h.roleIDsOf(owner, gid, plain.ID); len(got) != 2 {
		t.Fatalf("roles %v", got)
	}
	h.must(204, h.reqV("/api/v9", "DELETE", path(plain.ID, low), mgr.Token, nil, nil))
	h.must(204, h.do("DELETE", path(plain.ID, low), mgr.Token, nil)) // already gone
	if got := h.roleIDsOf(owner, gid, plain.ID); !slices.Equal(got, []string{high}) {
		t.Fatalf("roles %v", got)
	}

	cases := []struct {
		name   string
		method string
		actor  user
		uid    string
		rid    string
		status int
		code   int
		field  string
	}{
		{name: "member without MANAGE_ROLES", method: "PUT", actor: plain, uid: plain.ID, rid: low, status: 403, code: 50013},
		{name: "manager adds its own top role", method: "PUT", actor: mgr, uid: plain.ID, rid: mgrs, status: 403, code: 50013},
		{name: "manager adds a higher role", method: "PUT", actor: mgr, uid: plain.ID, rid: high, status: 403, code: 50013},
		{name: "manager removes a higher role", method: "DELETE", actor: mgr, uid: plain.ID, rid: high, status: 403, code: 50013},
		{name: "managed role", method: "PUT", actor: owner, uid: plain.ID, rid: managed, status: 403, code: 50013},
		{name: "managed role off the bot", method: "DELETE", actor: owner, uid: bot.ID, rid: managed, status: 403, code: 50013},
		{name: "managed role via PATCH", method: "PATCH", actor: owner, uid: plain.ID, rid: managed, status: 403, code: 50013},
		{name: "@everyone", method: "PUT", actor: owner, uid: plain.ID, rid: gid, status: 404, code: 10011},
		{name: "unknown role", method: "PUT", actor: owner, uid: plain.ID, rid: "5150", status: 404, code: 10011},
		{name: "another guild's role", method: "PUT", actor: owner, uid: plain.ID, rid: foreign, status: 404, code: 10011},
		{name: "unknown member", method: "PUT", actor: owner, uid: outsider.ID, rid: low, status: 404, code: 10007},
		{name: "non-member", method: "DELETE", actor: outsider, uid: plain.ID, rid: high, status: 404, code: 10004},
		{name: "bad role id", method: "PUT", actor: owner, uid: plain.ID, rid: "low", field: "role_id"},
		{name: "bad user id", method: "DELETE", actor: owner, uid: "plain", rid: low, field: "user_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			before := h.roleIDsOf(owner, gid, plain.ID)
			var r resp
			if tc.method == "PATCH" {
				r = h.do("PATCH", "/guilds/"+gid+"/members/"+tc.uid, tc.actor.Token, map[string]any{"roles": append(slices.Clone(before), tc.rid)})
			} else {
				r = h.do(tc.method, path(tc.uid, tc.rid), tc.actor.Token, nil)
			}
			if tc.field != "" {
				h.wantFormErr(r, tc.field, "")
			} else {
				h.wantErr(r, tc.status, tc.code)
			}
			if after := h.roleIDsOf(owner, gid, plain.ID); !slices.Equal(before, after) {
				t.Fatalf("roles changed: %v -> %v", before, after)
			}
		})
	}
	h.t = t
	h.wantErr(h.do("PUT", path(plain.ID, low), "", nil), 401, 0)
	h.wantErr(h.do("GET", "/guilds/"+gid+"/roles/"+foreign, owner.Token, nil), 404, 10011)
	h.wantErr(h.do("PATCH", "/guilds/"+gid+"/roles/"+foreign, owner.Token, map[string]any{"name": "x"}), 404, 10011)
	h.wantErr(h.do("DELETE", "/guilds/"+gid+"/roles/"+foreign, owner.Token, nil), 404, 10011)
	h.wantFormErr(h.do("PATCH", "/guilds/"+gid+"/members/"+plain.ID, owner.Token, map[string]any{"roles": []string{foreign}}), "roles.0", "ROLE_INVALID")
	if got := h.roleIDsOf(owner, gid, bot.ID); !slices.Equal(got, []string{managed}) {
		t.Fatalf("bot roles %v", got)
	}
}

func TestKickMember(t *testing.T) {
	h := newHarness(t)
	owner := h.user("kkowner")
	plain := h.user("kkplain")
	plain2 := h.user("kkplain")
	kicker := h.user("kkkicker")
	peer := h.user("kkpeer")
	admin := h.user("kkadmin")
	outsider := h.user("kkoutsider")
	gid, text, _ := h.guild(owner)
	for _, u := range []user{plain, plain2, kicker, peer, admin} {
		h.join(owner, u, text)
	}
	admins := h.mkRole(owner, gid, "admins", perm.Administrator)
	kickers := h.mkRole(owner, gid, "kickers", perm.KickMembers)
	h.giveRole(owner, gid, admin.ID, admins)
	h.giveRole(owner, gid, kicker.ID, kickers)
	h.giveRole(owner, gid, peer.ID, kickers)

	kick := func(actor user, uid string) resp {
		return h.do("DELETE", "/guilds/"+gid+"/members/"+uid, actor.Token, nil)
	}
	cases := []struct {
		name   string
		actor  user
		uid    string
		status int
		code   int
		field  string
	}{
		{name: "member without KICK_MEMBERS", actor: plain, uid: plain2.ID, status: 403, code: 50013},
		{name: "kicker kicks a peer", actor: kicker, uid: peer.ID, status: 403, code: 50013},
		{name: "kicker kicks a higher member", actor: kicker, uid: admin.ID, status: 403, code: 50013},
		{name: "kicker kicks the owner", actor: kicker, uid: owner.ID, status: 403, code: 50013},
		{name: "admin kicks the owner", actor: admin, uid: owner.ID, status: 403, code: 50013},
		{name: "unknown member", actor: owner, uid: outsider.ID, status: 404, code: 10007},
		{name: "non-member", actor: outsider, uid: plain.ID, status: 404, code: 10004},
		{name: "bad user id", actor: owner, uid: "someone", field: "user_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			r := kick(tc.actor, tc.uid)
			if tc.field != "" {
				h.wantFormErr(r, tc.field, "")
			} else {
				h.wantErr(r, tc.status, tc.code)
			}
			if n := len(h.must(200, h.do("GET", "/guilds/"+gid+"/members?limit=100", owner.Token, nil)).Arr()); n != 6 {
				t.Fatalf("%d members after a refused kick", n)
			}
		})
	}
	h.t = t
	h.wantErr(kick(user{}, plain.ID), 401, 0)

	h.must(204, kick(kicker, plain.ID))
	h.wantErr(h.do("GET", "/guilds/"+gid+"/members/"+plain.ID, owner.Token, nil), 404, 10007)
	h.wantErr(h.do("GET", "/guilds/"+gid, plain.Token, nil), 404, 10004)
	if gs := h.must(200, h.do("GET", "/users/@me/guilds", plain.Token, nil)).Arr(); len(gs) != 0 {
		t.Fatalf("kicked member still lists %v", gs)
	}
	h.wantErr(kick(kicker, plain.ID), 404, 10007)
	// A kick is not a ban.
	h.join(owner, plain, text)
	h.must(200, h.do("GET", "/guilds/"+gid, plain.Token, nil))
	h.must(204, h.reqV("/api/v9", "DELETE", "/guilds/"+gid+"/members/"+plain2.ID, admin.Token, nil, nil))
	h.must(204, kick(owner, kicker.ID))
	h.wantErr(h.do("GET", "/guilds/"+gid+"/members/"+kicker.ID, owner.Token, nil), 404, 10007)
}

func TestLeaveGuild(t *testing.T) {
	h := newHarness(t)
	owner := h.user("lgowner")
	member := h.user("lgmember")
	outsider := h.user("lgoutsider")
	gid, text, _ := h.guild(owner)
	h.join(owner, member, text)

	h.wantErr(h.do("DELETE", "/users/@me/guilds/"+gid, outsider.Token, nil), 404, 10004)
	h.wantErr(h.do("DELETE", "/users/@me/guilds/5555", member.Token, nil), 404, 10004)
	h.wantFormErr(h.do("DELETE", "/users/@me/guilds/guild", member.Token, nil), "guild_id", "")
	h.wantErr(h.do("DELETE", "/users/@me/guilds/"+gid, "", nil), 401, 0)
	h.wantErr(h.do("DELETE", "/users/@me/guilds/"+gid, owner.Token, nil), 400, 50035)
	h.must(200, h.do("GET", "/guilds/"+gid, owner.Token, nil))

	h.must(204, h.do("DELETE", "/users/@me/guilds/"+gid, member.Token, nil))
	h.wantErr(h.do("GET", "/guilds/"+gid, member.Token, nil), 404, 10004)
	h.wantErr(h.do("GET", "/guilds/"+gid+"/members/"+member.ID, owner.Token, nil), 404, 10007)
	if gs := h.must(200, h.do("GET", "/users/@me/guilds", member.Token, nil)).Arr(); len(gs) != 0 {
		t.Fatalf("left guild still listed: %v", gs)
	}
	h.wantErr(h.do("DELETE", "/users/@me/guilds/"+gid, member.Token, nil), 404, 10004)
	// Leaving is not a ban either.
	h.join(owner, member, text)
	h.must(204, h.reqV("/api/v9", "DELETE", "/users/@me/guilds/"+gid, member.Token, nil, nil))
}

func TestBans(t *testing.T) {
	h := newHarness(t)
	owner := h.user("bnowner")
	target := h.user("bntarget")
	mod := h.user("bnmod")
	peer := h.user("bnpeer")
	plain := h.user("bnplain")
	outsider := h.user("bnoutsider")
	preban := h.user("bnpreban")
	gid, text, _ := h.guild(owner)
	for _, u := range []user{target, mod, peer, plain} {
		h.join(owner, u, text)
	}
	banners := h.mkRole(owner, gid, "banners", perm.BanMembers)
	h.giveRole(owner, gid, mod.ID, banners)
	h.giveRole(owner, gid, peer.ID, banners)
	ban := func(actor user, uid string, body any, hdr map[string]string) resp {
		return h.reqV("/api/v10", "PUT", "/guilds/"+gid+"/bans/"+uid, actor.Token, body, hdr)
	}
	banList := func() []any { return h.must(200, h.do("GET", "/guilds/"+gid+"/bans", owner.Token, nil)).Arr() }

	cases := []struct {
		name   string
		actor  user
		uid    string
		body   any
		status int
		code   int
		field  string
	}{
		{name: "member without BAN_MEMBERS", actor: plain, uid: target.ID, status: 403, code: 50013},
		{name: "mod bans a peer", actor: mod, uid: peer.ID, status: 403, code: 50013},
		{name: "mod bans the owner", actor: mod, uid: owner.ID, status: 403, code: 50013},
		{name: "mod bans itself", actor: mod, uid: mod.ID, status: 403, code: 50013},
		{name: "non-member", actor: outsider, uid: target.ID, status: 404, code: 10004},
		{name: "unknown user", actor: owner, uid: "987654321", status: 404, code: 10013},
		{name: "delete seconds too big", actor: owner, uid: target.ID, body: map[string]any{"delete_message_seconds": 604801}, field: "delete_message_seconds"},
		{name: "delete seconds negative", actor: owner, uid: target.ID, body: map[string]any{"delete_message_seconds": -1}, field: "delete_message_seconds"},
		{name: "delete seconds wrong type", actor: owner, uid: target.ID, body: map[string]any{"delete_message_seconds": "all"}, field: "delete_message_seconds"},
		{name: "malformed", actor: owner, uid: target.ID, body: `{"delete_message_seconds"`, status: 400, code: 50109},
		{name: "bad user id", actor: owner, uid: "target", field: "user_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			r := ban(tc.actor, tc.uid, tc.body, nil)
			if tc.field != "" {
				h.wantFormErr(r, tc.field, "")
			} else {
				h.wantErr(r, tc.status, tc.code)
			}
			if bs := banList(); len(bs) != 0 {
				t.Fatalf("bans after a refused ban: %v", bs)
			}
			h.must(200, h.do("GET", "/guilds/"+gid+"/members/"+target.ID, owner.Token, nil))
		})
	}
	h.t = t
	h.wantErr(ban(user{}, target.ID, nil, nil), 401, 0)

	// A ban removes the member; the reason header is URL-encoded, as
	// Discord's clients send it.
	h.must(204, h.reqV("/api/v9", "PUT", "/guilds/"+gid+"/bans/"+target.ID, mod.Token, map[string]any{"delete_message_seconds": 3600},
		map[string]string{"X-Audit-Log-Reason": "spam%20and%20eggs%20%E2%9C%93"}))
	h.wantErr(h.do("GET", "/guilds/"+gid+"/members/"+target.ID, owner.Token, nil), 404, 10007)
	h.wantErr(h.do("GET", "/guilds/"+gid, target.Token, nil), 404, 10004)
	if gs := h.must(200, h.do("GET", "/users/@me/guilds", target.Token, nil)).Arr(); len(gs) != 0 {
		t.Fatalf("banned user still lists %v", gs)
	}
	b := h.must(200, h.do("GET", "/guilds/"+gid+"/bans/"+target.ID, mod.Token, nil)).Obj()
	if b["reason"] != "spam and eggs ✓" || asObj(b["user"])["id"] != target.ID || asObj(b["user"])["username"] != target.Name {
		t.Fatalf("ban = %v", b)
	}
	// Banning someone who is not a member works too, without a reason.
	h.must(204, ban(owner, preban.ID, nil, nil))
	bs := banList()
	if len(bs) != 2 {
		t.Fatalf("bans = %v", bs)
	}
	var users []string
	for _, v := range bs {
		users = append(users, asObj(asObj(v)["user"])["id"].(string))
		if asObj(v)["user"].(map[string]any)["id"] == preban.ID {
			if r, ok := asObj(v)["reason"]; !ok || r != nil {
				t.Fatalf("reason = %v", r)
			}
		}
	}
	if !slices.IsSortedFunc(users, func(a, b string) int {
		x, _ := strconv.ParseUint(a, 10, 64)
		y, _ := strconv.ParseUint(b, 10, 64)
		return cmp.Compare(x, y)
	}) || !slices.Contains(users, target.ID) || !slices.Contains(users, preban.ID) {
		t.Fatalf("ban users %v", users)
	}

	// Banned users cannot come back through an invite.
	inv := h.must(200, h.do("POST", "/channels/"+text+"/invites", owner.Token, map[string]any{"max_age": 0, "unique": true})).Str("code")
	h.wantErr(h.do("POST", "/invites/"+inv, target.Token, nil), 403, 40007)
	h.wantErr(h.do("POST", "/invites/"+inv, preban.Token, nil), 403, 40007)
	h.wantErr(h.do("GET", "/guilds/"+gid, target.Token, nil), 404, 10004)

	// Reading and lifting bans needs BAN_MEMBERS.
	h.wantErr(h.do("GET", "/guilds/"+gid+"/bans", plain.Token, nil), 403, 50013)
	h.wantErr(h.do("GET", "/guilds/"+gid+"/bans/"+target.ID, plain.Token, nil), 403, 50013)
	h.wantErr(h.do("DELETE", "/guilds/"+gid+"/bans/"+target.ID, plain.Token, nil), 403, 50013)
	h.wantErr(h.do("GET", "/guilds/"+gid+"/bans", outsider.Token, nil), 404, 10004)
	h.wantErr(h.do("GET", "/guilds/"+gid+"/bans/"+target.ID, outsider.Token, nil), 404, 10004)
	h.wantErr(h.do("DELETE", "/guilds/"+gid+"/bans/"+target.ID, outsider.Token, nil), 404, 10004)
	h.wantErr(h.do("GET", "/guilds/"+gid+"/bans", "", nil), 401, 0)
	h.wantErr(h.do("GET", "/guilds/"+gid+"/bans/"+plain.ID, owner.Token, nil), 404, 10026)
	h.wantFormErr(h.do("GET", "/guilds/"+gid+"/bans/x", owner.Token, nil), "user_id", "")
	h.wantErr(h.do("DELETE", "/guilds/"+gid+"/bans/"+plain.ID, owner.Token, nil), 404, 10026)

	h.must(204, h.do("DELETE", "/guilds/"+gid+"/bans/"+target.ID, mod.Token, nil))
	h.wantErr(h.do("GET", "/guilds/"+gid+"/bans/"+target.ID, owner.Token, nil), 404, 10026)
	h.wantErr(h.do("DELETE", "/guilds/"+gid+"/bans/"+target.ID, mod.Token, nil), 404, 10026)
	if bs := banList(); len(bs) != 1 {
		t.Fatalf("bans after unban = %v", bs)
	}
	h.must(200, h.do("POST", "/invites/"+inv, target.Token, nil))
	h.must(200, h.do("GET", "/guilds/"+gid+"/members/"+target.ID, owner.Token, nil))
}
