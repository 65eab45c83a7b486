package rest

// Reaction, pin and typing endpoint tests. They reuse the mtFix fixture of
// messages_test.go; helpers here are prefixed "rp".

import (
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/perm"
)

const (
	rpThumbs = "👍"
	rpHeart  = "❤️"  // two code points: U+2764 U+FE0F
	rpKeycap = "1️⃣" // an ASCII digit, U+FE0F, U+20E3
)

// rpPath is a message's reaction path for an emoji, URL-encoded the way
// clients send it.
func rpPath(channel, message, emoji string) string {
	return "/channels/" + channel + "/messages/" + message + "/reactions/" + url.PathEscape(emoji)
}

func (f *mtFix) react(u user, channel, message, emoji string) resp {
	f.h.t.Helper()
	return f.h.do("PUT", rpPath(channel, message, emoji)+"/@me", u.Token, nil)
}

// rpReactions returns a message's reactions as u sees them: emoji name →
// (count, me).
type rpReaction struct {
	count int
	me    bool
}

func (f *mtFix) reactions(u user, channel, message string) map[string]rpReaction {
	f.h.t.Helper()
	m := f.h.must(200, f.h.do("GET", "/channels/"+channel+"/messages/"+message, u.Token, nil)).Obj()
	return rpReactionsOf(f.h.t, m)
}

func rpReactionsOf(t *testing.T, m map[string]any) map[string]rpReaction {
	t.Helper()
	out := map[string]rpReaction{}
	arr, _ := m["reactions"].([]any)
	for _, r := range arr {
		o := r.(map[string]any)
		e, _ := o["emoji"].(map[string]any)
		name, _ := e["name"].(string)
		if e["id"] != nil {
			t.Fatalf("unicode emoji with id: %v", e)
		}
		cd, _ := o["count_details"].(map[string]any)
		if cd["normal"] != o["count"] || cd["burst"] != 0.0 || o["me_burst"] != false {
			t.Fatalf("reaction %v", o)
		}
		out[name] = rpReaction{count: int(o["count"].(float64)), me: o["me"].(bool)}
	}
	if _, ok := m["reactions"]; ok && len(out) == 0 {
		t.Fatalf("empty reactions array should be omitted: %v", m["reactions"])
	}
	return out
}

func rpEqual(a, b map[string]rpReaction) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestReactionAdd(t *testing.T) {
	f := mtSetup(t)
	id := f.h.send(f.owner, f.text, "react to me")
	steps := []struct {
		name   string
		u      func(f *mtFix) user
		emoji  string
		member map[string]rpReaction // as the member sees the message after
		owner  map[string]rpReaction
	}{
		{"member thumbs", asMember, rpThumbs,
			map[string]rpReaction{rpThumbs: {1, true}}, map[string]rpReaction{rpThumbs: {1, false}}},
		{"member thumbs again is a no-op", asMember, rpThumbs,
			map[string]rpReaction{rpThumbs: {1, true}}, map[string]rpReaction{rpThumbs: {1, false}}},
		{"owner thumbs", func(f *mtFix) user { return f.owner }, rpThumbs,
			map[string]rpReaction{rpThumbs: {2, true}}, map[string]rpReaction{rpThumbs: {2, true}}},
		{"owner heart", func(f *mtFix) user { return f.owner }, rpHeart,
			map[string]rpReaction{rpThumbs: {2, true}, rpHeart: {1, false}}, map[string]rpReaction{rpThumbs: {2, true}, rpHeart: {1, true}}},
		{"member keycap", asMember, rpKeycap,
			map[string]rpReaction{rpThumbs: {2, true}, rpHeart: {1, false}, rpKeycap: {1, true}},
			map[string]rpReaction{rpThumbs: {2, true}, rpHeart: {1, true}, rpKeycap: {1, false}}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			f := f.with(t)
			f.h.must(204, f.react(s.u(f), f.text, id, s.emoji))
			if got := f.reactions(f.member, f.text, id); !rpEqual(got, s.member) {
				t.Fatalf("member sees %v, want %v", got, s.member)
			}
			if got := f.reactions(f.owner, f.text, id); !rpEqual(got, s.owner) {
				t.Fatalf("owner sees %v, want %v", got, s.owner)
			}
		})
	}
	// History carries the same reactions, in the order they were first
	// added.
	msgs := f.h.must(200, f.h.do("GET", "/channels/"+f.text+"/messages", f.member.Token, nil)).Arr()
	m := msgs[0].(map[string]any)
	if got := rpReactionsOf(t, m); !rpEqual(got, steps[len(steps)-1].member) {
		t.Fatalf("history reactions %v", got)
	}
	var order []string
	for _, r := range m["reactions"].([]any) {
		order = append(order, r.(map[string]any)["emoji"].(map[string]any)["name"].(string))
	}
	if !slices.Equal(order, []string{rpThumbs, rpHeart, rpKeycap}) {
		t.Fatalf("order %q", order)
	}
	// The literal emoji in the path works too (Go's client escapes it).
	f.h.must(204, f.h.do("PUT", "/channels/"+f.text+"/messages/"+id+"/reactions/"+"🎉"+"/@me", f.member.Token, nil))
	if got := f.reactions(f.member, f.text, id)["🎉"]; got != (rpReaction{1, true}) {
		t.Fatalf("party %v", got)
	}
}

func TestReactionInvalid(t *testing.T) {
	f := mtSetup(t)
	id := f.h.send(f.owner, f.text, "m")
	f.h.must(204, f.react(f.owner, f.text, id, rpThumbs))
	bad := []string{"abc", "a", "name:123456789012345678", "x👍", "👍 👍", "\t", "%zz", "1", "🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥🔥"}
	for _, e := range bad {
		t.Run(fmt.Sprintf("%q", e), func(t *testing.T) {
			f := f.with(t)
			p := rpPath(f.text, id, e)
			if e == "%zz" { // an escape that does not decode
				p = "/channels/" + f.text + "/messages/" + id + "/reactions/%25zz"
			}
			for _, req := range []struct{ method, path string }{
				{"PUT", p + "/@me"}, {"DELETE", p + "/@me"}, {"DELETE", p + "/" + f.member.ID}, {"DELETE", p}, {"GET", p},
			} {
				f.h.wantErr(f.h.do(req.method, req.path, f.owner.Token, nil), 404, 10014)
			}
		})
	}
	if got := f.reactions(f.owner, f.text, id); !rpEqual(got, map[string]rpReaction{rpThumbs: {1, true}}) {
		t.Fatalf("reactions changed: %v", got)
	}
	t.Run("unknown message", func(t *testing.T) {
		f := f.with(t)
		f.h.wantErr(f.react(f.owner, f.text, "123456789012345678", rpThumbs), 404, 10008)
		f.h.wantErr(f.h.do("GET", rpPath(f.text, "123456789012345678", rpThumbs), f.owner.Token, nil), 404, 10008)
	})
	t.Run("bad message id", func(t *testing.T) {
		f := f.with(t)
		f.h.wantErr(f.react(f.owner, f.text, "nope", rpThumbs), 400, 50035)
	})
}

func TestReactionRemove(t *testing.T) {
	cases := []struct {
		name   string
		as     func(f *mtFix) user
		path   func(f *mtFix, id string) string // DELETE path
		status int
		code   int
		want   map[string]rpReaction // as the owner sees it afterwards
	}{
		{"remove own", asMember, func(f *mtFix, id string) string { return rpPath(f.text, id, rpThumbs) + "/@me" }, 204, 0,
			map[string]rpReaction{rpThumbs: {1, true}, rpHeart: {1, false}}},
		{"remove own by explicit id", asMember, func(f *mtFix, id string) string { return rpPath(f.text, id, rpThumbs) + "/" + f.member.ID }, 204, 0,
			map[string]rpReaction{rpThumbs: {1, true}, rpHeart: {1, false}}},
		{"remove own last of emoji", asMember, func(f *mtFix, id string) string { return rpPath(f.text, id, rpHeart) + "/@me" }, 204, 0,
			map[string]rpReaction{rpThumbs: {2, true}}},
		{"remove own never added", asMember, func(f *mtFix, id string) string { return rpPath(f.text, id, "🎉") + "/@me" }, 204, 0,
			map[string]rpReaction{rpThumbs: {2, true}, rpHeart: {1, false}}},
		{"member removes owner's", asMember, func(f *mtFix, id string) string { return rpPath(f.text, id, rpThumbs) + "/" + f.owner.ID }, 403, 50013,
			map[string]rpReaction{rpThumbs: {2, true}, rpHeart: {1, false}}},
		{"moderator removes member's", func(f *mtFix) user { return f.mod }, func(f *mtFix, id string) string { return rpPath(f.text, id, rpHeart) + "/" + f.member.ID }, 204, 0,
			map[string]rpReaction{rpThumbs: {2, true}}},
		{"owner removes member's", func(f *mtFix) user { return f.owner }, func(f *mtFix, id string) string { return rpPath(f.text, id, rpThumbs) + "/" + f.member.ID }, 204, 0,
			map[string]rpReaction{rpThumbs: {1, true}, rpHeart: {1, false}}},
		{"bad user id", func(f *mtFix) user { return f.owner }, func(f *mtFix, id string) string { return rpPath(f.text, id, rpThumbs) + "/someone" }, 400, 50035,
			map[string]rpReaction{rpThumbs: {2, true}, rpHeart: {1, false}}},
		{"member clears all", asMember, func(f *mtFix, id string) string { return "/channels/" + f.text + "/messages/" + id + "/reactions" }, 403, 50013,
			map[string]rpReaction{rpThumbs: {2, true}, rpHeart: {1, false}}},
		{"moderator clears all", func(f *mtFix) user { return f.mod }, func(f *mtFix, id string) string { return "/channels/" + f.text + "/messages/" + id + "/reactions" }, 204, 0,
			map[string]rpReaction{}},
		{"member clears emoji", asMember, func(f *mtFix, id string) string { return rpPath(f.text, id, rpThumbs) }, 403, 50013,
			map[string]rpReaction{rpThumbs: {2, true}, rpHeart: {1, false}}},
		{"owner clears emoji", func(f *mtFix) user { return f.owner }, func(f *mtFix, id string) string { return rpPath(f.text, id, rpThumbs) }, 204, 0,
			map[string]rpReaction{rpHeart: {1, false}}},
		{"clear reactions of unknown message", func(f *mtFix) user { return f.owner }, func(f *mtFix, id string) string {
			return "/channels/" + f.text + "/messages/123456789012345678/reactions"
		}, 404, 10008, map[string]rpReaction{rpThumbs: {2, true}, rpHeart: {1, false}}},
		{"unknown sub-resource", func(f *mtFix) user { return f.owner }, func(f *mtFix, id string) string {
			return "/channels/" + f.text + "/messages/" + id + "/bogus"
		}, 404, 0, map[string]rpReaction{rpThumbs: {2, true}, rpHeart: {1, false}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := mtSetup(t)
			id := f.h.send(f.owner, f.text, "m")
			f.h.must(204, f.react(f.owner, f.text, id, rpThumbs))
			f.h.must(204, f.react(f.member, f.text, id, rpThumbs))
			f.h.must(204, f.react(f.member, f.text, id, rpHeart))
			r := f.h.do("DELETE", c.path(f, id), c.as(f).Token, nil)
			if c.status == 204 {
				f.h.must(204, r)
			} else {
				f.h.wantErr(r, c.status, c.code)
			}
			if got := f.reactions(f.owner, f.text, id); !rpEqual(got, c.want) {
				t.Fatalf("owner sees %v, want %v", got, c.want)
			}
			// The user lists agree with the counts.
			for _, e := range []string{rpThumbs, rpHeart} {
				users := mtIDs(f.h.must(200, f.h.do("GET", rpPath(f.text, id, e), f.owner.Token, nil)).JSON())
				if len(users) != c.want[e].count {
					t.Fatalf("%s users %v, count %d", e, users, c.want[e].count)
				}
			}
		})
	}
}

func TestReactionUsers(t *testing.T) {
	f := mtSetup(t)
	id := f.h.send(f.owner, f.text, "popular")
	reactors := []user{f.owner, f.member, f.mod}
	for i := range 4 {
		u := f.h.user(fmt.Sprint("fan", i))
		f.h.join(f.owner, u, f.text)
		reactors = append(reactors, u)
	}
	for _, u := range reactors {
		f.h.must(204, f.react(u, f.text, id, rpHeart))
	}
	ids := make([]string, len(reactors))
	for i, u := range reactors {
		ids[i] = u.ID
	}
	slices.SortFunc(ids, func(a, b string) int { return cmpSnowflake(a, b) })
	cases := []struct {
		query  string
		want   []string
		status int
	}{
		{"", ids, 200},
		{"?limit=2", ids[:2], 200},
		{"?limit=100", ids, 200},
		{"?after=" + ids[1] + "&limit=2", ids[2:4], 200},
		{"?after=" + ids[5], ids[6:], 200},
		{"?after=" + ids[6], []string{}, 200},
		{"?type=0", ids, 200},
		{"?type=1", []string{}, 200},
		{"?type=2", nil, 400},
		{"?limit=0", nil, 400},
		{"?limit=101", nil, 400},
		{"?after=x", nil, 400},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			f := f.with(t)
			r := f.h.do("GET", rpPath(f.text, id, rpHeart)+c.query, f.member.Token, nil)
			if c.status != 200 {
				f.h.wantErr(r, 400, 50035)
				return
			}
			arr := f.h.must(200, r).Arr()
			if arr == nil {
				t.Fatalf("body %s, want an array", r.Body)
			}
			if got := mtIDs(arr); !slices.Equal(got, c.want) {
				t.Fatalf("users %v, want %v", got, c.want)
			}
			for _, u := range arr {
				if u.(map[string]any)["username"] == nil {
					t.Fatalf("not a user object: %v", u)
				}
			}
		})
	}
	t.Run("emoji nobody used", func(t *testing.T) {
		f := f.with(t)
		r := f.h.must(200, f.h.do("GET", rpPath(f.text, id, rpThumbs), f.member.Token, nil))
		if string(r.Body) != "[]" {
			t.Fatalf("body %s", r.Body)
		}
	})
	t.Run("without READ_MESSAGE_HISTORY", func(t *testing.T) {
		f := f.with(t)
		f.deny(f.text, f.member, perm.ReadMessageHistory)
		f.h.wantErr(f.h.do("GET", rpPath(f.text, id, rpHeart), f.member.Token, nil), 403, 50013)
	})
}

func cmpSnowflake(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestReactionPermissions(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(f *mtFix)
		emoji  string // the member reacts with it; the owner has reacted 👍
		status int
		code   int
	}{
		{"new emoji", nil, rpHeart, 204, 0},
		{"existing emoji", nil, rpThumbs, 204, 0},
		{"new emoji without ADD_REACTIONS", func(f *mtFix) { f.deny(f.text, f.member, perm.AddReactions) }, rpHeart, 403, 50013},
		{"existing emoji without ADD_REACTIONS", func(f *mtFix) { f.deny(f.text, f.member, perm.AddReactions) }, rpThumbs, 204, 0},
		{"@everyone role without ADD_REACTIONS", func(f *mtFix) { f.everyone(perm.DefaultEveryone &^ perm.AddReactions) }, rpHeart, 403, 50013},
		{"existing emoji without READ_MESSAGE_HISTORY", func(f *mtFix) { f.deny(f.text, f.member, perm.ReadMessageHistory) }, rpThumbs, 403, 50013},
		{"hidden channel", func(f *mtFix) { f.deny(f.text, f.member, perm.ViewChannel) }, rpThumbs, 403, 50001},
		{"without SEND_MESSAGES", func(f *mtFix) { f.deny(f.text, f.member, perm.SendMessages) }, rpHeart, 204, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := mtSetup(t)
			id := f.h.send(f.owner, f.text, "m")
			f.h.must(204, f.react(f.owner, f.text, id, rpThumbs))
			if c.setup != nil {
				c.setup(f)
			}
			r := f.react(f.member, f.text, id, c.emoji)
			got := f.reactions(f.owner, f.text, id)
			if c.status != 204 {
				f.h.wantErr(r, c.status, c.code)
				if !rpEqual(got, map[string]rpReaction{rpThumbs: {1, true}}) {
					t.Fatalf("refused reaction counted: %v", got)
				}
				return
			}
			f.h.must(204, r)
			if got[c.emoji].count != map[bool]int{true: 2, false: 1}[c.emoji == rpThumbs] {
				t.Fatalf("reactions %v", got)
			}
		})
	}
}

func TestReactionEmojiLimit(t *testing.T) {
	f := mtSetup(t)
	id := f.h.send(f.owner, f.text, "m")
	for i := range 20 {
		f.h.must(204, f.react(f.owner, f.text, id, string(rune(0x1F600+i))))
	}
	f.h.wantErr(f.react(f.owner, f.text, id, string(rune(0x1F600+20))), 400, 30010)
	// Joining one of the twenty is still fine.
	f.h.must(204, f.react(f.member, f.text, id, string(rune(0x1F600))))
	if got := f.reactions(f.member, f.text, id); len(got) != 20 || got[string(rune(0x1F600))] != (rpReaction{2, true}) {
		t.Fatalf("reactions %v", got)
	}
}

func TestReactionsInDM(t *testing.T) {
	h := newHarness(t)
	alice, bob := h.user("alice"), h.user("bob")
	h.acquaint(alice, bob)
	ch := h.must(200, h.do("POST", "/users/@me/channels", alice.Token, map[string]any{"recipient_id": bob.ID})).Str("id")
	f := &mtFix{h: h}
	id := h.send(alice, ch, "dm")
	f.h.must(204, f.react(bob, ch, id, rpThumbs))
	f.h.must(204, f.react(alice, ch, id, rpThumbs))
	h.wantErr(h.do("DELETE", rpPath(ch, id, rpThumbs)+"/"+bob.ID, alice.Token, nil), 403, 50013)
	h.wantErr(h.do("DELETE", "/channels/"+ch+"/messages/"+id+"/reactions", alice.Token, nil), 403, 50003)
	h.wantErr(h.do("DELETE", rpPath(ch, id, rpThumbs), alice.Token, nil), 403, 50003)
	h.must(204, h.do("DELETE", rpPath(ch, id, rpThumbs)+"/@me", bob.Token, nil))
	if got := f.reactions(alice, ch, id); !rpEqual(got, map[string]rpReaction{rpThumbs: {1, true}}) {
		t.Fatalf("reactions %v", got)
	}
}

// pin routes: both spellings pin and unpin.
var rpPinRoutes = []struct{ name, pin, unpin string }{
	{"legacy", "/pins/", "/pins/"},
	{"messages", "/messages/pins/", "/messages/pins/"},
	{"legacy pin, new unpin", "/pins/", "/messages/pins/"},
}

func TestPins(t *testing.T) {
	for _, route := range rpPinRoutes {
		t.Run(route.name, func(t *testing.T) {
			f := mtSetup(t)
			a := f.h.send(f.member, f.text, "a")
			b := f.h.send(f.member, f.text, "b")
			pin := func(u user, id string) resp { return f.h.do("PUT", "/channels/"+f.text+route.pin+id, u.Token, nil) }
			unpin := func(u user, id string) resp {
				return f.h.do("DELETE", "/channels/"+f.text+route.unpin+id, u.Token, nil)
			}
			start := time.Now().Add(-time.Second)
			f.h.must(204, pin(f.owner, b))
			f.h.must(204, pin(f.owner, a)) // pinned last, listed first
			f.h.must(204, pin(f.owner, a)) // again: nothing changes
			f.rpWantPins(f.member, a, b)
			legacy := f.h.must(200, f.h.do("GET", "/channels/"+f.text+"/pins", f.member.Token, nil)).Arr()
			for _, m := range legacy {
				if m.(map[string]any)["pinned"] != true {
					t.Fatalf("listed pin not pinned: %v", m)
				}
			}
			v2 := f.h.must(200, f.h.do("GET", "/channels/"+f.text+"/messages/pins", f.member.Token, nil)).Obj()
			items, _ := v2["items"].([]any)
			if v2["has_more"] != false || len(items) != 2 {
				t.Fatalf("pins %v", v2)
			}
			for _, it := range items {
				o := it.(map[string]any)
				at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(o["pinned_at"]))
				if err != nil || at.Before(start) || o["message"].(map[string]any)["pinned"] != true {
					t.Fatalf("pin item %v", o)
				}
			}
			ch := f.h.must(200, f.h.do("GET", "/channels/"+f.text, f.member.Token, nil)).Obj()
			if ch["last_pin_timestamp"] == nil {
				t.Fatalf("channel without last_pin_timestamp: %v", ch)
			}
			if m := f.h.must(200, f.h.do("GET", "/channels/"+f.text+"/messages/"+a, f.member.Token, nil)).Obj(); m["pinned"] != true {
				t.Fatalf("message %v", m)
			}
			f.h.must(204, unpin(f.owner, a))
			f.h.must(204, unpin(f.owner, a))
			f.rpWantPins(f.member, b)
			if m := f.h.must(200, f.h.do("GET", "/channels/"+f.text+"/messages/"+a, f.member.Token, nil)).Obj(); m["pinned"] != false {
				t.Fatalf("unpinned message %v", m)
			}
			f.h.wantErr(pin(f.owner, "123456789012345678"), 404, 10008)
			f.h.wantErr(pin(f.owner, "x"), 400, 50035)
		})
	}
}

// rpWantPins checks both pin listings, most recently pinned first.
func (f *mtFix) rpWantPins(u user, want ...string) {
	f.h.t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := mtIDs(f.h.must(200, f.h.do("GET", "/channels/"+f.text+"/pins", u.Token, nil)).JSON()); !slices.Equal(got, want) {
		f.h.t.Fatalf("/pins %v, want %v", got, want)
	}
	items, _ := f.h.must(200, f.h.do("GET", "/channels/"+f.text+"/messages/pins", u.Token, nil)).Obj()["items"].([]any)
	got := []string{}
	for _, it := range items {
		got = append(got, it.(map[string]any)["message"].(map[string]any)["id"].(string))
	}
	if !slices.Equal(got, want) {
		f.h.t.Fatalf("/messages/pins %v, want %v", got, want)
	}
}

func TestPinPermissions(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(f *mtFix) user
		status int
		code   int
	}{
		{"owner", func(f *mtFix) user { return f.owner }, 204, 0},
		{"PIN_MESSAGES role", func(f *mtFix) user { f.grant(f.member, f.role(perm.PinMessages, false)); return f.member }, 204, 0},
		{"PIN_MESSAGES overwrite", func(f *mtFix) user { f.overwrite(f.text, f.member.ID, 1, perm.PinMessages, 0); return f.member }, 204, 0},
		{"MANAGE_MESSAGES alone", func(f *mtFix) user { return f.mod }, 403, 50013},
		{"plain member", func(f *mtFix) user { return f.member }, 403, 50013},
		{"PIN_MESSAGES denied in channel", func(f *mtFix) user {
			f.grant(f.member, f.role(perm.PinMessages, false))
			f.deny(f.text, f.member, perm.PinMessages)
			return f.member
		}, 403, 50013},
		{"hidden channel", func(f *mtFix) user {
			f.grant(f.member, f.role(perm.PinMessages, false))
			f.deny(f.text, f.member, perm.ViewChannel)
			return f.member
		}, 403, 50001},
		{"outsider", func(f *mtFix) user { return f.outsider }, 403, 50001},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := mtSetup(t)
			id := f.h.send(f.owner, f.text, "pin me")
			pinned := f.h.send(f.owner, f.text, "already pinned")
			f.h.must(204, f.h.do("PUT", "/channels/"+f.text+"/pins/"+pinned, f.owner.Token, nil))
			u := c.setup(f)
			pin := f.h.do("PUT", "/channels/"+f.text+"/pins/"+id, u.Token, nil)
			unpin := f.h.do("DELETE", "/channels/"+f.text+"/messages/pins/"+pinned, u.Token, nil)
			if c.status == 204 {
				f.h.must(204, pin)
				f.h.must(204, unpin)
				f.rpWantPins(f.owner, id)
				return
			}
			f.h.wantErr(pin, c.status, c.code)
			f.h.wantErr(unpin, c.status, c.code)
			f.rpWantPins(f.owner, pinned)
		})
	}
	t.Run("listing without READ_MESSAGE_HISTORY", func(t *testing.T) {
		f := mtSetup(t)
		id := f.h.send(f.owner, f.text, "pin me")
		f.h.must(204, f.h.do("PUT", "/channels/"+f.text+"/pins/"+id, f.owner.Token, nil))
		f.deny(f.text, f.member, perm.ReadMessageHistory)
		f.rpWantPins(f.member)
		f.deny(f.text, f.member, perm.ViewChannel)
		f.h.wantErr(f.h.do("GET", "/channels/"+f.text+"/pins", f.member.Token, nil), 403, 50001)
		f.h.wantErr(f.h.do("GET", "/channels/"+f.text+"/messages/pins", f.member.Token, nil), 403, 50001)
	})
	t.Run("DM", func(t *testing.T) {
		h := newHarness(t)
		alice, bob := h.user("alice"), h.user("bob")
		h.acquaint(alice, bob)
		ch := h.must(200, h.do("POST", "/users/@me/channels", alice.Token, map[string]any{"recipient_id": bob.ID})).Str("id")
		id := h.send(alice, ch, "dm")
		h.must(204, h.do("PUT", "/channels/"+ch+"/pins/"+id, bob.Token, nil))
		f := &mtFix{h: h, text: ch}
		f.rpWantPins(alice, id)
	})
}

func TestPinLimit(t *testing.T) {
	f := mtSetup(t)
	ids := make([]string, 51)
	for i := range ids {
		ids[i] = f.h.send(f.owner, f.text, fmt.Sprint("pin ", i))
	}
	for _, id := range ids[:50] {
		f.h.must(204, f.h.do("PUT", "/channels/"+f.text+"/pins/"+id, f.owner.Token, nil))
	}
	f.h.wantErr(f.h.do("PUT", "/channels/"+f.text+"/pins/"+ids[50], f.owner.Token, nil), 400, 30003)
	f.h.wantErr(f.h.do("PUT", "/channels/"+f.text+"/messages/pins/"+ids[50], f.owner.Token, nil), 400, 30003)
	// Re-pinning a pinned message at the limit is not a new pin.
	f.h.must(204, f.h.do("PUT", "/channels/"+f.text+"/pins/"+ids[7], f.owner.Token, nil))
	if n := len(f.h.must(200, f.h.do("GET", "/channels/"+f.text+"/pins", f.owner.Token, nil)).Arr()); n != 50 {
		t.Fatalf("%d pins", n)
	}
	f.h.must(204, f.h.do("DELETE", "/channels/"+f.text+"/pins/"+ids[0], f.owner.Token, nil))
	f.h.must(204, f.h.do("PUT", "/channels/"+f.text+"/pins/"+ids[50], f.owner.Token, nil))
	pins := mtIDs(f.h.must(200, f.h.do("GET", "/channels/"+f.text+"/pins", f.owner.Token, nil)).JSON())
	if len(pins) != 50 || pins[0] != ids[50] || slices.Contains(pins, ids[0]) {
		t.Fatalf("pins after swap: %d, first %s", len(pins), pins[0])
	}
	// Deleting a pinned message takes it off the list and frees its slot.
	f.h.must(204, f.h.do("DELETE", "/channels/"+f.text+"/messages/"+ids[1], f.owner.Token, nil))
	pins = mtIDs(f.h.must(200, f.h.do("GET", "/channels/"+f.text+"/pins", f.owner.Token, nil)).JSON())
	if len(pins) != 49 || slices.Contains(pins, ids[1]) {
		t.Fatalf("pins after deleting a pinned message: %d", len(pins))
	}
	f.h.must(204, f.h.do("PUT", "/channels/"+f.text+"/pins/"+ids[0], f.owner.Token, nil))
	f.h.wantErr(f.h.do("PUT", "/channels/"+f.text+"/pins/"+f.h.send(f.owner, f.text, "one more"), f.owner.Token, nil), 400, 30003)
	// The limit is per channel.
	other := f.channel("other", 0)
	f.h.must(204, f.h.do("PUT", "/channels/"+other+"/pins/"+f.h.send(f.owner, other, "x"), f.owner.Token, nil))
}

func TestTyping(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(f *mtFix) (user, string)
		status int
		code   int
	}{
		{"member", func(f *mtFix) (user, string) { return f.member, f.text }, 204, 0},
		{"owner in voice", func(f *mtFix) (user, string) { return f.owner, f.voice }, 204, 0},
		{"SEND_MESSAGES denied", func(f *mtFix) (user, string) { f.deny(f.text, f.member, perm.SendMessages); return f.member, f.text }, 403, 50013},
		{"@everyone without SEND_MESSAGES", func(f *mtFix) (user, string) {
			f.everyone(perm.DefaultEveryone &^ perm.SendMessages)
			return f.member, f.text
		}, 403, 50013},
		{"hidden channel", func(f *mtFix) (user, string) { f.deny(f.text, f.member, perm.ViewChannel); return f.member, f.text }, 403, 50001},
		{"outsider", func(f *mtFix) (user, string) { return f.outsider, f.text }, 403, 50001},
		{"unknown channel", func(f *mtFix) (user, string) { return f.member, "123456789012345678" }, 404, 10003},
		{"bad channel id", func(f *mtFix) (user, string) { return f.member, "chan" }, 400, 50035},
		{"no token", func(f *mtFix) (user, string) { return user{}, f.text }, 401, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := mtSetup(t)
			u, ch := c.setup(f)
			r := f.h.do("POST", "/channels/"+ch+"/typing", u.Token, nil)
			if c.status == 204 {
				f.h.must(204, r)
				if len(r.Body) != 0 {
					t.Fatalf("204 with body %q", r.Body)
				}
				return
			}
			f.h.wantErr(r, c.status, c.code)
		})
	}
	t.Run("DM", func(t *testing.T) {
		h := newHarness(t)
		alice, bob := h.user("alice"), h.user("bob")
		h.acquaint(alice, bob)
		ch := h.must(200, h.do("POST", "/users/@me/channels", alice.Token, map[string]any{"recipient_id": bob.ID})).Str("id")
		h.must(204, h.do("POST", "/channels/"+ch+"/typing", bob.Token, nil))
	})
}
