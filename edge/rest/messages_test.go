package rest

// Message endpoint tests: create (content, nonce, tts, embeds, replies,
// mentions, validation, permissions), read, history paging, edit, delete,
// bulk delete, DMs and multipart uploads.
//
// Helpers here are prefixed "mt" so they cannot clash with other test
// files of the package.

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/core/snowflake"
)

// mtFix is a guild with an owner, a plain member, a moderator holding
// MANAGE_MESSAGES through a role, and an outsider who is in no guild.
type mtFix struct {
	h                            *harness
	owner, member, mod, outsider user
	gid, text, voice, modRole    string
}

func mtSetup(t *testing.T, opts ...harnessOpt) *mtFix {
	t.Helper()
	h := newHarness(t, opts...)
	f := &mtFix{h: h, owner: h.user("owner"), member: h.user("member"), mod: h.user("mod"), outsider: h.user("outsider")}
	f.gid, f.text, f.voice = h.guild(f.owner)
	h.join(f.owner, f.member, f.text)
	h.join(f.owner, f.mod, f.text)
	f.modRole = f.role(perm.ManageMessages, false)
	f.grant(f.mod, f.modRole)
	return f
}

// with returns the fixture bound to a subtest, so harness failures stop
// the subtest rather than its parent.
func (f *mtFix) with(t *testing.T) *mtFix {
	h := *f.h
	h.t = t
	g := *f
	g.h = &h
	return &g
}

func (f *mtFix) post(u user, channel string, body any) resp {
	f.h.t.Helper()
	return f.h.do("POST", "/channels/"+channel+"/messages", u.Token, body)
}

// role creates a role with the permissions and returns its ID.
func (f *mtFix) role(perms uint64, mentionable bool) string {
	f.h.t.Helper()
	r := f.h.must(200, f.h.do("POST", "/guilds/"+f.gid+"/roles", f.owner.Token,
		map[string]any{"name": "r", "permissions": perm.Format(perms), "mentionable": mentionable}))
	return r.Str("id")
}

func (f *mtFix) grant(u user, role string) {
	f.h.t.Helper()
	f.h.must(204, f.h.do("PUT", "/guilds/"+f.gid+"/members/"+u.ID+"/roles/"+role, f.owner.Token, nil))
}

// everyone sets the @everyone role's permissions.
func (f *mtFix) everyone(perms uint64) {
	f.h.t.Helper()
	f.h.must(200, f.h.do("PATCH", "/guilds/"+f.gid+"/roles/"+f.gid, f.owner.Token, map[string]any{"permissions": perm.Format(perms)}))
}

// deny puts a member overwrite denying bits to u on the channel.
func (f *mtFix) deny(channel string, u user, bits uint64) {
	f.h.t.Helper()
	f.overwrite(channel, u.ID, 1, 0, bits)
}

func (f *mtFix) overwrite(channel, target string, typ int, allow, deny uint64) {
	f.h.t.Helper()
	f.h.must(204, f.h.do("PUT", "/channels/"+channel+"/permissions/"+target, f.owner.Token,
		map[string]any{"type": typ, "allow": perm.Format(allow), "deny": perm.Format(deny)}))
}

// channel creates a guild channel of the type and returns its ID.
func (f *mtFix) channel(name string, typ int) string {
	f.h.t.Helper()
	return f.h.must(201, f.h.do("POST", "/guilds/"+f.gid+"/channels", f.owner.Token, map[string]any{"name": name, "type": typ})).Str("id")
}

// history returns the IDs of a channel's messages, newest first, as u.
func (f *mtFix) history(u user, channel, query string) []string {
	f.h.t.Helper()
	return mtIDs(f.h.must(200, f.h.do("GET", "/channels/"+channel+"/messages"+query, u.Token, nil)).JSON())
}

// mtIDs returns the "id" of each object of a JSON array.
func mtIDs(v any) []string {
	arr, _ := v.([]any)
	out := []string{}
	for _, e := range arr {
		if m, ok := e.(map[string]any); ok {
			s, _ := m["id"].(string)
			out = append(out, s)
		}
	}
	return out
}

// mtStrs returns a JSON array of strings.
func mtStrs(v any) []string {
	arr, _ := v.([]any)
	out := []string{}
	for _, e := range arr {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

// mtFieldCode returns the first error code at a dotted path of a 50035
// body's error tree, "" when there is none.
func mtFieldCode(r resp, path string) string {
	node, _ := r.Obj()["errors"].(map[string]any)
	for _, p := range strings.Split(path, ".") {
		node, _ = node[p].(map[string]any)
	}
	errs, _ := node["_errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	e, _ := errs[0].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// mtWantField fails unless r is a 400 50035 naming path with code.
func mtWantField(t *testing.T, r resp, path, code string) {
	t.Helper()
	if r.Status != 400 || r.Code() != 50035 {
		t.Fatalf("got %d code %d (%s), want 400 50035", r.Status, r.Code(), r.Body)
	}
	if got := mtFieldCode(r, path); got != code {
		t.Fatalf("errors.%s code %q, want %q; body %s", path, got, code, r.Body)
	}
}

// mtCase is one create-message request and what must come of it.
type mtCase struct {
	name  string
	as    func(f *mtFix) user // nil: the owner
	body  any
	want  int    // HTTP status; 0 means 200
	code  int    // Discord error code when want is not 200
	field string // for 50035: the field path named
	fcode string // and its error code
	check func(t *testing.T, f *mtFix, m map[string]any)
}

func (f *mtFix) runCreate(t *testing.T, cases []mtCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := f.with(t)
			u := f.owner
			if c.as != nil {
				u = c.as(f)
			}
			before := len(f.history(f.owner, f.text, "?limit=100"))
			r := f.post(u, f.text, c.body)
			want := c.want
			if want == 0 {
				want = 200
			}
			after := len(f.history(f.owner, f.text, "?limit=100"))
			if want != 200 {
				if c.field != "" {
					mtWantField(t, r, c.field, c.fcode)
				} else {
					f.h.wantErr(r, want, c.code)
				}
				if after != before {
					t.Fatalf("refused request stored a message: %d → %d", before, after)
				}
				return
			}
			f.h.must(200, r)
			if after != before+1 {
				t.Fatalf("history %d → %d, want one more", before, after)
			}
			m := r.Obj()
			// What was returned is what is stored.
			got := f.h.must(200, f.h.do("GET", "/channels/"+f.text+"/messages/"+r.Str("id"), f.owner.Token, nil)).Obj()
			for _, k := range []string{"id", "content", "tts", "embeds", "mentions", "mention_roles", "mention_everyone", "flags", "type"} {
				if fmt.Sprint(got[k]) != fmt.Sprint(m[k]) {
					t.Fatalf("%s: created %v, stored %v", k, m[k], got[k])
				}
			}
			if c.check != nil {
				c.check(t, f, m)
			}
		})
	}
}

func asMember(f *mtFix) user { return f.member }

func TestMessageCreateContent(t *testing.T) {
	f := mtSetup(t)
	embed := func(title string) map[string]any { return map[string]any{"title": title} }
	manyEmbeds := make([]any, 11)
	for i := range manyEmbeds {
		manyEmbeds[i] = embed("e")
	}
	f.runCreate(t, []mtCase{
		{name: "content", as: asMember, body: map[string]any{"content": "hello world"}, check: func(t *testing.T, f *mtFix, m map[string]any) {
			if m["content"] != "hello world" || m["type"] != 0.0 || m["channel_id"] != f.text || m["guild_id"] != f.gid {
				t.Fatalf("message %v", m)
			}
			if a, _ := m["author"].(map[string]any); a["id"] != f.member.ID || a["username"] != f.member.Name {
				t.Fatalf("author %v", m["author"])
			}
			if mem, _ := m["member"].(map[string]any); mem == nil {
				t.Fatalf("guild message without member: %v", m)
			}
			id, err := snowflake.Parse(m["id"].(string))
			if err != nil {
				t.Fatal(err)
			}
			ts, err := time.Parse(time.RFC3339Nano, m["timestamp"].(string))
			if err != nil || ts.Sub(id.Time()).Abs() > time.Millisecond || time.Since(ts) > time.Minute {
				t.Fatalf("timestamp %v for id time %v (%v)", m["timestamp"], id.Time(), err)
			}
			if m["edited_timestamp"] != nil || m["tts"] != false || m["pinned"] != false || m["mention_everyone"] != false {
				t.Fatalf("defaults %v", m)
			}
			for _, k := range []string{"mentions", "mention_roles", "attachments", "embeds", "components"} {
				if a, ok := m[k].([]any); !ok || len(a) != 0 {
					t.Fatalf("%s = %v, want []", k, m[k])
				}
			}
			if _, ok := m["nonce"]; ok {
				t.Fatalf("nonce without one sent: %v", m["nonce"])
			}
		}},
		{name: "2000 characters", body: map[string]any{"content": strings.Repeat("é", 2000)}},
		{name: "2001 characters", body: map[string]any{"content": strings.Repeat("a", 2001)}, want: 400, field: "content", fcode: "BASE_TYPE_MAX_LENGTH"},
		{name: "no content", body: map[string]any{}, want: 400, code: 50006},
		{name: "empty content", body: map[string]any{"content": ""}, want: 400, code: 50006},
		{name: "blank content", body: map[string]any{"content": " \n\t "}, want: 400, code: 50006},
		{name: "null content no embeds", body: map[string]any{"content": nil, "embeds": []any{}}, want: 400, code: 50006},
		{name: "string nonce", body: map[string]any{"content": "n", "nonce": "abc-123"}, check: func(t *testing.T, f *mtFix, m map[string]any) {
			if m["nonce"] != "abc-123" {
				t.Fatalf("nonce %v", m["nonce"])
			}
		}},
		{name: "integer nonce", body: map[string]any{"content": "n", "nonce": 1234567}, check: func(t *testing.T, f *mtFix, m map[string]any) {
			if n, _ := m["nonce"].(float64); n != 1234567 && m["nonce"] != "1234567" {
				t.Fatalf("nonce %v", m["nonce"])
			}
		}},
		{name: "null nonce", body: map[string]any{"content": "n", "nonce": nil}, check: func(t *testing.T, f *mtFix, m map[string]any) {
			if v, ok := m["nonce"]; ok && v != nil {
				t.Fatalf("nonce %v", v)
			}
		}},
		{name: "nonce 25 characters", body: map[string]any{"content": "n", "nonce": strings.Repeat("x", 25)}},
		{name: "nonce too long", body: map[string]any{"content": "n", "nonce": strings.Repeat("x", 26)}, want: 400, field: "nonce", fcode: "BASE_TYPE_MAX_LENGTH"},
		{name: "nonce object", body: map[string]any{"content": "n", "nonce": map[string]any{}}, want: 400, field: "nonce", fcode: "BASE_TYPE_INVALID"},
		{name: "nonce bool", body: map[string]any{"content": "n", "nonce": true}, want: 400, field: "nonce", fcode: "BASE_TYPE_INVALID"},
		{name: "suppress embeds flag", body: map[string]any{"content": "f", "flags": 4}, check: func(t *testing.T, f *mtFix, m map[string]any) {
			if m["flags"] != 4.0 {
				t.Fatalf("flags %v", m["flags"])
			}
		}},
		{name: "flag not settable", body: map[string]any{"content": "f", "flags": 2}, want: 400, field: "flags", fcode: "MESSAGE_FLAGS_INVALID"},
		{name: "embed", as: asMember, body: map[string]any{"embeds": []any{map[string]any{"title": "T", "description": "D", "color": 0xFF0000,
			"fields": []any{map[string]any{"name": "n", "value": "v", "inline": true}}}}},
			check: func(t *testing.T, f *mtFix, m map[string]any) {
				es, _ := m["embeds"].([]any)
				if len(es) != 1 {
					t.Fatalf("embeds %v", m["embeds"])
				}
				e := es[0].(map[string]any)
				if e["title"] != "T" || e["description"] != "D" || e["color"] != float64(0xFF0000) || len(e["fields"].([]any)) != 1 {
					t.Fatalf("embed %v", e)
				}
			}},
		{name: "legacy embed field", body: map[string]any{"embed": embed("old")}, check: func(t *testing.T, f *mtFix, m map[string]any) {
			if es, _ := m["embeds"].([]any); len(es) != 1 || es[0].(map[string]any)["title"] != "old" {
				t.Fatalf("embeds %v", m["embeds"])
			}
		}},
		{name: "ten embeds", body: map[string]any{"embeds": manyEmbeds[:10]}},
		{name: "eleven embeds", body: map[string]any{"embeds": manyEmbeds}, want: 400, field: "embeds", fcode: "BASE_TYPE_MAX_LENGTH"},
		{name: "title 256", body: map[string]any{"embeds": []any{embed(strings.Repeat("t", 256))}}},
		{name: "title 257", body: map[string]any{"embeds": []any{embed(strings.Repeat("t", 257))}}, want: 400, field: "embeds.0.title", fcode: "BASE_TYPE_MAX_LENGTH"},
		{name: "second embed title", body: map[string]any{"embeds": []any{embed("ok"), embed(strings.Repeat("t", 257))}}, want: 400, field: "embeds.1.title", fcode: "BASE_TYPE_MAX_LENGTH"},
		{name: "description 4097", body: map[string]any{"embeds": []any{map[string]any{"description": strings.Repeat("d", 4097)}}}, want: 400, field: "embeds.0.description", fcode: "BASE_TYPE_MAX_LENGTH"},
		{name: "field without value", body: map[string]any{"embeds": []any{map[string]any{"fields": []any{map[string]any{"name": "n"}}}}}, want: 400, field: "embeds.0.fields.0.value", fcode: "BASE_TYPE_REQUIRED"},
		{name: "color out of range", body: map[string]any{"embeds": []any{map[string]any{"title": "c", "color": 0x1000000}}}, want: 400, field: "embeds.0.color", fcode: "NUMBER_TYPE_MAX"},
		{name: "embed not an object", body: map[string]any{"embeds": []any{"x"}}, want: 400, field: "embeds.0", fcode: "DICT_TYPE_CONVERT"},
		{name: "embed https links", body: map[string]any{"embeds": []any{map[string]any{"title": "t", "url": "https://example.com/a",
			"author": map[string]any{"name": "a", "url": "http://example.com", "icon_url": "https://example.com/i.png"},
			"image":  map[string]any{"url": "attachment://pic.png"}, "thumbnail": map[string]any{"url": "https://example.com/t.png"},
			"footer": map[string]any{"text": "f", "icon_url": "attachment://icon.png"}}}}},
		{name: "embed javascript url", body: map[string]any{"embeds": []any{map[string]any{"title": "t", "url": "javascript:alert(1)"}}},
			want: 400, field: "embeds.0.url", fcode: "URL_TYPE_INVALID_SCHEME"},
		{name: "embed JavaScript author url", body: map[string]any{"embeds": []any{map[string]any{"author": map[string]any{"name": "a", "url": "JavaScript:alert(1)"}}}},
			want: 400, field: "embeds.0.author.url", fcode: "URL_TYPE_INVALID_SCHEME"},
		{name: "embed data image", body: map[string]any{"embeds": []any{map[string]any{"image": map[string]any{"url": "data:text/html,<script>alert(1)</script>"}}}},
			want: 400, field: "embeds.0.image.url", fcode: "URL_TYPE_INVALID_SCHEME"},
		{name: "embed attachment url is for images only", body: map[string]any{"embeds": []any{map[string]any{"title": "t", "url": "attachment://x.png"}}},
			want: 400, field: "embeds.0.url", fcode: "URL_TYPE_INVALID_SCHEME"},
		{name: "embed relative url", body: map[string]any{"embeds": []any{map[string]any{"title": "t", "url": "/channels/1"}}},
			want: 400, field: "embeds.0.url", fcode: "URL_TYPE_INVALID"},
		{name: "embed thumbnail without host", body: map[string]any{"embeds": []any{map[string]any{"thumbnail": map[string]any{"url": "https:///x.png"}}}},
			want: 400, field: "embeds.0.thumbnail.url", fcode: "URL_TYPE_INVALID"},
		{name: "embed footer icon vbscript", body: map[string]any{"embeds": []any{map[string]any{"footer": map[string]any{"text": "f", "icon_url": "vbscript:x"}}}},
			want: 400, field: "embeds.0.footer.icon_url", fcode: "URL_TYPE_INVALID_SCHEME"},
		{name: "6000 embed characters", body: map[string]any{"embeds": []any{
			map[string]any{"description": strings.Repeat("d", 3000)}, map[string]any{"description": strings.Repeat("d", 3000)}}}},
		{name: "6001 embed characters", body: map[string]any{"embeds": []any{
			map[string]any{"description": strings.Repeat("d", 3000)}, map[string]any{"title": "x", "description": strings.Repeat("d", 3000)}}},
			want: 400, field: "embeds", fcode: "MAX_EMBED_SIZE_EXCEEDED"},
		{name: "content wrong type", body: map[string]any{"content": 5}, want: 400, field: "content", fcode: "BASE_TYPE_STRING"},
		{name: "tts wrong type", body: map[string]any{"content": "x", "tts": "yes"}, want: 400, field: "tts", fcode: "BASE_TYPE_BOOLEAN"},
		{name: "embeds wrong type", body: map[string]any{"content": "x", "embeds": "x"}, want: 400, field: "embeds", fcode: "BASE_TYPE_ARRAY"},
		{name: "flags wrong type", body: map[string]any{"content": "x", "flags": "4"}, want: 400, field: "flags", fcode: "NUMBER_TYPE_COERCE"},
		{name: "parse wrong type", body: map[string]any{"content": "x", "allowed_mentions": map[string]any{"parse": "users"}}, want: 400, field: "allowed_mentions.parse", fcode: "BASE_TYPE_ARRAY"},
		{name: "reference id not a snowflake", body: map[string]any{"content": "x", "message_reference": map[string]any{"message_id": "abc"}},
			want: 400, field: "message_reference.message_id", fcode: "NUMBER_TYPE_COERCE"},
		{name: "allowed user not a snowflake", body: map[string]any{"content": "x", "allowed_mentions": map[string]any{"users": []any{"1", "x"}}},
			want: 400, field: "allowed_mentions.users.1", fcode: "NUMBER_TYPE_COERCE"},
		{name: "unknown parse value", body: map[string]any{"content": "x", "allowed_mentions": map[string]any{"parse": []any{"users", "bots"}}},
			want: 400, field: "allowed_mentions.parse.1", fcode: "BASE_TYPE_CHOICES"},
		{name: "parse users and users list", body: map[string]any{"content": "x", "allowed_mentions": map[string]any{"parse": []any{"users"}, "users": []any{"1"}}},
			want: 400, field: "allowed_mentions", fcode: "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"},
		{name: "unknown fields ignored", body: map[string]any{"content": "x", "sticker_ids": []any{}, "whatever": 1}},
	})
}

func TestMessageCreateMalformedJSON(t *testing.T) {
	f := mtSetup(t)
	for _, body := range []string{
		``, ` `, `{"content":`, `not json`, `[]`, `"hello"`, `null`, `{"content":"a",}`,
		`{"content":"a"}}`, `{"content":"a"}]`, `{"content":"a"} {"content":"b"}`, `{"content":"a"}x`,
		`{"content":"\x00"}`, "{\"content\":\"a\"\x00}",
	} {
		t.Run(fmt.Sprintf("%q", body), func(t *testing.T) {
			f := f.with(t)
			f.h.wantErr(f.post(f.owner, f.text, body), 400, 50109)
		})
	}
	if n := len(f.history(f.owner, f.text, "")); n != 0 {
		t.Fatalf("%d messages stored from malformed bodies", n)
	}
	// Whitespace around a good body is fine.
	f.h.must(200, f.post(f.owner, f.text, "\n {\"content\":\"ok\"} \n"))
}

func TestMessageCreateTTS(t *testing.T) {
	f := mtSetup(t)
	tts := func(u user, channel string) any {
		t.Helper()
		return f.h.must(200, f.post(u, channel, map[string]any{"content": "speak", "tts": true})).Obj()["tts"]
	}
	if got := tts(f.owner, f.text); got != true {
		t.Fatalf("owner tts %v", got)
	}
	// @everyone has no SEND_TTS_MESSAGES by default: the flag is dropped,
	// the message still sent.
	if got := tts(f.member, f.text); got != false {
		t.Fatalf("member without SEND_TTS_MESSAGES: tts %v", got)
	}
	loud := f.channel("loud", 0)
	f.overwrite(loud, f.member.ID, 1, perm.SendTTSMessages, 0)
	if got := tts(f.member, loud); got != true {
		t.Fatalf("member allowed SEND_TTS_MESSAGES: tts %v", got)
	}
}

func TestMessageMentions(t *testing.T) {
	f := mtSetup(t)
	// Nobody but the owner and the herald may mention @everyone.
	f.everyone(perm.DefaultEveryone &^ perm.MentionEveryone)
	herald := f.h.user("herald")
	f.h.join(f.owner, herald, f.text)
	f.grant(herald, f.role(perm.MentionEveryone, false))
	pingable := f.role(0, true)
	quiet := f.role(0, false)
	asHerald := func(*mtFix) user { return herald }
	users := func(want ...func(f *mtFix) user) func(t *testing.T, f *mtFix, m map[string]any) {
		return func(t *testing.T, f *mtFix, m map[string]any) {
			t.Helper()
			ids := []string{}
			for _, w := range want {
				ids = append(ids, w(f).ID)
			}
			got := mtIDs(m["mentions"])
			slices.Sort(ids)
			slices.Sort(got)
			if !slices.Equal(got, ids) {
				t.Fatalf("mentions %v, want %v", got, ids)
			}
			for _, mu := range m["mentions"].([]any) {
				o := mu.(map[string]any)
				if o["username"] == nil || o["member"] == nil {
					t.Fatalf("mention is not a user object with member: %v", o)
				}
			}
		}
	}
	roles := func(want ...string) func(t *testing.T, f *mtFix, m map[string]any) {
		return func(t *testing.T, f *mtFix, m map[string]any) {
			t.Helper()
			if got := mtStrs(m["mention_roles"]); !slices.Equal(got, append([]string{}, want...)) {
				t.Fatalf("mention_roles %v, want %v", got, want)
			}
		}
	}
	everyone := func(want bool) func(t *testing.T, f *mtFix, m map[string]any) {
		return func(t *testing.T, f *mtFix, m map[string]any) {
			t.Helper()
			if m["mention_everyone"] != want {
				t.Fatalf("mention_everyone %v, want %v", m["mention_everyone"], want)
			}
		}
	}
	mod := func(f *mtFix) user { return f.mod }
	member := func(f *mtFix) user { return f.member }
	owner := func(f *mtFix) user { return f.owner }
	f.runCreate(t, []mtCase{
		{name: "user mention", body: map[string]any{"content": "hi <@" + f.member.ID + ">"}, check: users(member)},
		{name: "nickname mention", body: map[string]any{"content": "hi <@!" + f.member.ID + ">"}, check: users(member)},
		{name: "both forms once", body: map[string]any{"content": "<@" + f.member.ID + "> <@!" + f.member.ID + "> <@" + f.mod.ID + ">"}, check: users(member, mod)},
		{name: "unknown user", body: map[string]any{"content": "<@123456789012345678> <@abc>"}, check: users()},
		{name: "parse empty", body: map[string]any{"content": "<@" + f.member.ID + "> @everyone <@&" + pingable + ">", "allowed_mentions": map[string]any{"parse": []any{}}},
			check: func(t *testing.T, f *mtFix, m map[string]any) {
				users()(t, f, m)
				roles()(t, f, m)
				everyone(false)(t, f, m)
			}},
		{name: "users list", body: map[string]any{"content": "<@" + f.member.ID + "> <@" + f.mod.ID + ">", "allowed_mentions": map[string]any{"users": []any{f.mod.ID}}}, check: users(mod)},
		{name: "parse users", body: map[string]any{"content": "<@" + f.member.ID + "> <@&" + pingable + ">", "allowed_mentions": map[string]any{"parse": []any{"users"}}},
			check: func(t *testing.T, f *mtFix, m map[string]any) {
				users(member)(t, f, m)
				roles()(t, f, m)
			}},
		{name: "self mention", as: asMember, body: map[string]any{"content": "me <@" + f.member.ID + ">"}, check: users(member)},
		{name: "owner everyone", body: map[string]any{"content": "@everyone hi"}, check: everyone(true)},
		{name: "owner here", body: map[string]any{"content": "@here hi"}, check: everyone(true)},
		{name: "member everyone without permission", as: asMember, body: map[string]any{"content": "@everyone hi"}, check: everyone(false)},
		{name: "herald everyone", as: asHerald, body: map[string]any{"content": "@everyone hi"}, check: everyone(true)},
		{name: "herald everyone not parsed", as: asHerald, body: map[string]any{"content": "@everyone hi", "allowed_mentions": map[string]any{"parse": []any{"users"}}}, check: everyone(false)},
		{name: "owner everyone parsed", body: map[string]any{"content": "@everyone", "allowed_mentions": map[string]any{"parse": []any{"everyone"}}}, check: everyone(true)},
		{name: "mentionable role", as: asMember, body: map[string]any{"content": "<@&" + pingable + ">"}, check: roles(pingable)},
		{name: "unmentionable role by member", as: asMember, body: map[string]any{"content": "<@&" + quiet + ">"}, check: roles()},
		{name: "unmentionable role by herald", as: asHerald, body: map[string]any{"content": "<@&" + quiet + ">"}, check: roles(quiet)},
		{name: "roles list", body: map[string]any{"content": "<@&" + quiet + "> <@&" + pingable + ">", "allowed_mentions": map[string]any{"roles": []any{quiet}}}, check: roles(quiet)},
		{name: "unknown role", body: map[string]any{"content": "<@&123456789012345678>"}, check: roles()},
		{name: "everyone text without at", body: map[string]any{"content": "everyone"}, check: everyone(false)},
		{name: "mentions by owner", body: map[string]any{"content": "<@" + f.owner.ID + ">"}, check: users(owner)},
	})
}

func TestMessageReplies(t *testing.T) {
	f := mtSetup(t)
	target := f.h.send(f.owner, f.text, "original")
	other := f.channel("other", 0)
	elsewhere := f.h.send(f.owner, other, "elsewhere")
	ref := func(id string) map[string]any { return map[string]any{"message_id": id} }
	isReply := func(mentionsOwner bool) func(t *testing.T, f *mtFix, m map[string]any) {
		return func(t *testing.T, f *mtFix, m map[string]any) {
			t.Helper()
			if m["type"] != 19.0 {
				t.Fatalf("type %v, want 19", m["type"])
			}
			mr, _ := m["message_reference"].(map[string]any)
			if mr["message_id"] != target || mr["channel_id"] != f.text || mr["guild_id"] != f.gid {
				t.Fatalf("message_reference %v", m["message_reference"])
			}
			rm, _ := m["referenced_message"].(map[string]any)
			if rm["id"] != target || rm["content"] != "original" || rm["author"].(map[string]any)["id"] != f.owner.ID {
				t.Fatalf("referenced_message %v", m["referenced_message"])
			}
			if got := slices.Contains(mtIDs(m["mentions"]), f.owner.ID); got != mentionsOwner {
				t.Fatalf("replied user in mentions: %v, want %v (%v)", got, mentionsOwner, mtIDs(m["mentions"]))
			}
			// Reading it back gives the referenced message too.
			got := f.h.must(200, f.h.do("GET", "/channels/"+f.text+"/messages/"+m["id"].(string), f.member.Token, nil)).Obj()
			if rm, _ := got["referenced_message"].(map[string]any); rm["id"] != target {
				t.Fatalf("GET referenced_message %v", got["referenced_message"])
			}
		}
	}
	f.runCreate(t, []mtCase{
		{name: "reply", as: asMember, body: map[string]any{"content": "re", "message_reference": ref(target)}, check: isReply(true)},
		{name: "reply with channel", as: asMember, body: map[string]any{"content": "re", "message_reference": map[string]any{"message_id": target, "channel_id": f.text}}, check: isReply(true)},
		{name: "replied_user false", as: asMember, body: map[string]any{"content": "re", "message_reference": ref(target),
			"allowed_mentions": map[string]any{"parse": []any{"users"}, "replied_user": false}}, check: isReply(false)},
		{name: "replied_user true", as: asMember, body: map[string]any{"content": "re", "message_reference": ref(target),
			"allowed_mentions": map[string]any{"parse": []any{}, "replied_user": true}}, check: isReply(true)},
		{name: "replied user mentioned in content", as: asMember, body: map[string]any{"content": "re <@" + f.owner.ID + ">", "message_reference": ref(target),
			"allowed_mentions": map[string]any{"parse": []any{"users"}, "replied_user": false}}, check: isReply(true)},
		{name: "unknown message", as: asMember, body: map[string]any{"content": "re", "message_reference": ref("123456789012345678")},
			want: 400, field: "message_reference", fcode: "REPLIES_UNKNOWN_MESSAGE"},
		{name: "message of another channel", as: asMember, body: map[string]any{"content": "re", "message_reference": ref(elsewhere)},
			want: 400, field: "message_reference", fcode: "REPLIES_UNKNOWN_MESSAGE"},
		{name: "other channel named", as: asMember, body: map[string]any{"content": "re", "message_reference": map[string]any{"message_id": elsewhere, "channel_id": other}},
			want: 400, field: "message_reference", fcode: "REPLIES_CANNOT_REFERENCE_OTHER_CHANNEL"},
	})
	// A reply to a deleted message is refused like an unknown one.
	gone := f.h.send(f.owner, f.text, "soon gone")
	f.h.must(204, f.h.do("DELETE", "/channels/"+f.text+"/messages/"+gone, f.owner.Token, nil))
	mtWantField(t, f.post(f.member, f.text, map[string]any{"content": "re", "message_reference": ref(gone)}), "message_reference", "REPLIES_UNKNOWN_MESSAGE")
}

func TestMessageCreatePermissions(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(f *mtFix) (u user, channel string)
		body   any
		status int
		code   int
	}{
		{"member can send", func(f *mtFix) (user, string) { return f.member, f.text }, nil, 200, 0},
		{"text in voice", func(f *mtFix) (user, string) { return f.member, f.voice }, nil, 200, 0},
		{"overwrite denies SEND_MESSAGES", func(f *mtFix) (user, string) {
			f.deny(f.text, f.member, perm.SendMessages)
			return f.member, f.text
		}, nil, 403, 50013},
		{"@everyone overwrite denies SEND_MESSAGES", func(f *mtFix) (user, string) {
			f.overwrite(f.text, f.gid, 0, 0, perm.SendMessages)
			return f.member, f.text
		}, nil, 403, 50013},
		{"@everyone overwrite does not bind the owner", func(f *mtFix) (user, string) {
			f.overwrite(f.text, f.gid, 0, 0, perm.SendMessages)
			return f.owner, f.text
		}, nil, 200, 0},
		{"@everyone role without SEND_MESSAGES", func(f *mtFix) (user, string) {
			f.everyone(perm.DefaultEveryone &^ perm.SendMessages)
			return f.member, f.text
		}, nil, 403, 50013},
		{"role gives SEND_MESSAGES back", func(f *mtFix) (user, string) {
			f.everyone(perm.DefaultEveryone &^ perm.SendMessages)
			f.grant(f.member, f.role(perm.SendMessages, false))
			return f.member, f.text
		}, nil, 200, 0},
		{"channel hidden", func(f *mtFix) (user, string) {
			f.deny(f.text, f.member, perm.ViewChannel)
			return f.member, f.text
		}, nil, 403, 50001},
		{"not a member", func(f *mtFix) (user, string) { return f.outsider, f.text }, nil, 403, 50001},
		{"unknown channel", func(f *mtFix) (user, string) { return f.member, "123456789012345678" }, nil, 404, 10003},
		{"category", func(f *mtFix) (user, string) { return f.owner, f.channel("cat", 4) }, nil, 400, 50008},
		{"bad channel id", func(f *mtFix) (user, string) { return f.member, "abc" }, nil, 400, 50035},
		{"overflowing channel id", func(f *mtFix) (user, string) { return f.member, "99999999999999999999999" }, nil, 400, 50035},
		{"no token", func(f *mtFix) (user, string) { return user{}, f.text }, nil, 401, 0},
		{"bad token", func(f *mtFix) (user, string) { return user{Token: "nope"}, f.text }, nil, 401, 0},
		{"embeds without EMBED_LINKS", func(f *mtFix) (user, string) {
			f.deny(f.text, f.member, perm.EmbedLinks)
			return f.member, f.text
		}, map[string]any{"embeds": []any{map[string]any{"title": "t"}}}, 403, 50013},
		{"bot member", func(f *mtFix) (user, string) {
			b := f.h.bot(f.owner, "helper")
			f.h.must(200, f.h.do("POST", "/oauth2/authorize?client_id="+b.ID+"&scope=bot", f.owner.Token,
				map[string]any{"guild_id": f.gid, "permissions": "0", "authorize": true}))
			return b, f.text
		}, nil, 200, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := mtSetup(t)
			u, ch := c.setup(f)
			body := c.body
			if body == nil {
				body = map[string]any{"content": "hello"}
			}
			r := f.post(u, ch, body)
			if c.status == 200 {
				f.h.must(200, r)
				if r.Obj()["author"].(map[string]any)["id"] != u.ID {
					t.Fatalf("author %v", r.Obj()["author"])
				}
				return
			}
			f.h.wantErr(r, c.status, c.code)
			if c.code == 50035 && mtFieldCode(r, "channel_id") != "NUMBER_TYPE_COERCE" {
				t.Fatalf("bad path snowflake not named: %s", r.Body)
			}
			if ids := f.history(f.owner, f.text, ""); len(ids) != 0 {
				t.Fatalf("refused message stored: %v", ids)
			}
		})
	}
}

func TestMessageRead(t *testing.T) {
	f := mtSetup(t)
	id := f.h.send(f.owner, f.text, "read me")
	other := f.channel("other", 0)
	cases := []struct {
		name   string
		setup  func(f *mtFix)
		as     func(f *mtFix) user
		path   string
		status int
		code   int
	}{
		{"member reads", nil, asMember, "/channels/" + f.text + "/messages/" + id, 200, 0},
		{"unknown message", nil, asMember, "/channels/" + f.text + "/messages/123456789012345678", 404, 10008},
		{"message of another channel", nil, asMember, "/channels/" + other + "/messages/" + id, 404, 10008},
		{"bad message id", nil, asMember, "/channels/" + f.text + "/messages/12x", 400, 50035},
		{"outsider", nil, func(f *mtFix) user { return f.outsider }, "/channels/" + f.text + "/messages/" + id, 403, 50001},
		{"hidden channel", func(f *mtFix) { f.deny(f.text, f.member, perm.ViewChannel) }, asMember, "/channels/" + f.text + "/messages/" + id, 403, 50001},
		{"no READ_MESSAGE_HISTORY", func(f *mtFix) { f.deny(f.text, f.member, perm.ReadMessageHistory) }, asMember, "/channels/" + f.text + "/messages/" + id, 403, 50013},
		{"history hidden", func(f *mtFix) { f.deny(f.text, f.member, perm.ViewChannel) }, asMember, "/channels/" + f.text + "/messages", 403, 50001},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := f.with(t)
			if c.setup != nil {
				c.setup(f)
				defer func() {
					f.h.must(204, f.h.do("DELETE", "/channels/"+f.text+"/permissions/"+f.member.ID, f.owner.Token, nil))
				}()
			}
			r := f.h.do("GET", c.path, c.as(f).Token, nil)
			if c.status != 200 {
				f.h.wantErr(r, c.status, c.code)
				return
			}
			m := f.h.must(200, r).Obj()
			if m["id"] != id || m["content"] != "read me" || m["author"].(map[string]any)["id"] != f.owner.ID {
				t.Fatalf("message %v", m)
			}
		})
	}
	// Without READ_MESSAGE_HISTORY the history is empty, as on Discord.
	f.deny(f.text, f.member, perm.ReadMessageHistory)
	if ids := f.history(f.member, f.text, ""); len(ids) != 0 {
		t.Fatalf("history without READ_MESSAGE_HISTORY: %v", ids)
	}
	if ids := f.history(f.owner, f.text, ""); len(ids) != 1 {
		t.Fatalf("owner history %v", ids)
	}
}

func TestMessageHistoryPaging(t *testing.T) {
	f := mtSetup(t)
	const n = 120
	ids := make([]string, n) // oldest first
	for i := range ids {
		ids[i] = f.h.send(f.owner, f.text, fmt.Sprintf("m%03d", i))
	}
	// span returns ids[hi], ids[hi-1], …, ids[lo]: newest first.
	span := func(hi, lo int) []string {
		out := []string{}
		for i := hi; i >= lo; i-- {
			out = append(out, ids[i])
		}
		return out
	}
	cases := []struct {
		query string
		want  []string
	}{
		{"", span(119, 70)},
		{"?limit=1", span(119, 119)},
		{"?limit=100", span(119, 20)},
		{"?limit=50", span(119, 70)},
		{"?before=" + ids[50] + "&limit=10", span(49, 40)},
		{"?before=" + ids[5], span(4, 0)},
		{"?before=" + ids[0], nil},
		{"?after=" + ids[50] + "&limit=10", span(60, 51)},
		{"?after=" + ids[110], span(119, 111)},
		{"?after=" + ids[119], nil},
		{"?after=0&limit=3", span(2, 0)},
		{"?after=0", span(49, 0)},
		{"?around=" + ids[60] + "&limit=10", span(65, 56)},
		{"?around=" + ids[60] + "&limit=1", span(60, 60)},
		{"?around=" + ids[60] + "&limit=3", span(61, 59)},
		{"?around=" + ids[1] + "&limit=10", span(6, 0)},
		{"?around=" + ids[119] + "&limit=4", span(119, 118)},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			f := f.with(t)
			got := f.history(f.member, f.text, c.query)
			if c.want == nil {
				c.want = []string{}
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("got %d messages %v\nwant %d %v", len(got), got, len(c.want), c.want)
			}
		})
	}
	t.Run("walk back", func(t *testing.T) {
		f := f.with(t)
		var all []string
		q := "?limit=50"
		sizes := []int{}
		for range 5 {
			page := f.history(f.member, f.text, q)
			sizes = append(sizes, len(page))
			if len(page) == 0 {
				break
			}
			all = append(all, page...)
			q = "?limit=50&before=" + page[len(page)-1]
		}
		if !slices.Equal(sizes, []int{50, 50, 20, 0}) || !slices.Equal(all, span(119, 0)) {
			t.Fatalf("pages %v; walked %d messages", sizes, len(all))
		}
	})
	t.Run("walk forward", func(t *testing.T) {
		f := f.with(t)
		var all []string
		after := "0"
		for range 5 {
			page := f.history(f.member, f.text, "?limit=50&after="+after)
			if len(page) == 0 {
				break
			}
			all = append(page, all...)
			after = page[0]
		}
		if !slices.Equal(all, span(119, 0)) {
			t.Fatalf("walked %d messages", len(all))
		}
	})
	for _, c := range []struct{ query, field string }{
		{"?limit=0", "limit"}, {"?limit=101", "limit"}, {"?limit=-1", "limit"}, {"?limit=abc", "limit"},
		{"?before=abc", "before"}, {"?after=-5", "after"}, {"?around=1.5", "around"},
		{"?before=" + ids[3] + "&after=" + ids[1], "around"},
	} {
		t.Run(c.query, func(t *testing.T) {
			f := f.with(t)
			r := f.h.do("GET", "/channels/"+f.text+"/messages"+c.query, f.member.Token, nil)
			if r.Status != 400 || r.Code() != 50035 || mtFieldCode(r, c.field) == "" {
				t.Fatalf("got %d %s, want 50035 naming %s", r.Status, r.Body, c.field)
			}
		})
	}
}

func TestMessageEdit(t *testing.T) {
	f := mtSetup(t)
	path := func(id string) string { return "/channels/" + f.text + "/messages/" + id }
	cases := []struct {
		name   string
		author func(f *mtFix) user
		editor func(f *mtFix) user
		body   any
		status int
		code   int
		field  string
		check  func(t *testing.T, f *mtFix, m map[string]any)
	}{
		{name: "author edits content", author: asMember, editor: asMember, body: map[string]any{"content": "edited"}, status: 200,
			check: func(t *testing.T, f *mtFix, m map[string]any) {
				if m["content"] != "edited" {
					t.Fatalf("content %v", m["content"])
				}
				ts, err1 := time.Parse(time.RFC3339Nano, fmt.Sprint(m["timestamp"]))
				ed, err2 := time.Parse(time.RFC3339Nano, fmt.Sprint(m["edited_timestamp"]))
				if err1 != nil || err2 != nil || ed.Before(ts) {
					t.Fatalf("timestamp %v edited_timestamp %v", m["timestamp"], m["edited_timestamp"])
				}
			}},
		{name: "edit adds a mention", author: asMember, editor: asMember, body: map[string]any{"content": "<@" + f.owner.ID + ">"}, status: 200,
			check: func(t *testing.T, f *mtFix, m map[string]any) {
				if got := mtIDs(m["mentions"]); !slices.Equal(got, []string{f.owner.ID}) {
					t.Fatalf("mentions %v", got)
				}
			}},
		{name: "author edits embeds", author: asMember, editor: asMember, body: map[string]any{"embeds": []any{map[string]any{"title": "new"}}}, status: 200,
			check: func(t *testing.T, f *mtFix, m map[string]any) {
				if m["content"] != "original" || len(m["embeds"].([]any)) != 1 {
					t.Fatalf("message %v", m)
				}
			}},
		{name: "owner cannot edit another's content", author: asMember, editor: func(f *mtFix) user { return f.owner }, body: map[string]any{"content": "hijack"}, status: 403, code: 50005},
		{name: "moderator cannot edit another's content", author: asMember, editor: func(f *mtFix) user { return f.mod }, body: map[string]any{"content": "hijack"}, status: 403, code: 50005},
		{name: "member cannot edit another's content", author: func(f *mtFix) user { return f.owner }, editor: asMember, body: map[string]any{"content": "hijack"}, status: 403, code: 50005},
		{name: "moderator suppresses embeds", author: asMember, editor: func(f *mtFix) user { return f.mod }, body: map[string]any{"flags": 4}, status: 200,
			check: func(t *testing.T, f *mtFix, m map[string]any) {
				if m["flags"] != 4.0 || m["content"] != "original" {
					t.Fatalf("message %v", m)
				}
			}},
		{name: "member cannot set flags on another's", author: func(f *mtFix) user { return f.owner }, editor: asMember, body: map[string]any{"flags": 4}, status: 403, code: 50013},
		{name: "edit to empty", author: asMember, editor: asMember, body: map[string]any{"content": ""}, status: 400, code: 50006},
		{name: "edit to null content", author: asMember, editor: asMember, body: map[string]any{"content": nil}, status: 400, code: 50006},
		{name: "edit too long", author: asMember, editor: asMember, body: map[string]any{"content": strings.Repeat("x", 2001)}, status: 400, field: "content"},
		{name: "bad embed", author: asMember, editor: asMember, body: map[string]any{"embeds": []any{map[string]any{"title": strings.Repeat("x", 257)}}}, status: 400, field: "embeds.0.title"},
		{name: "bad flags", author: asMember, editor: asMember, body: map[string]any{"flags": 1}, status: 400, field: "flags"},
		{name: "wrong type", author: asMember, editor: asMember, body: map[string]any{"content": []any{}}, status: 400, field: "content"},
		{name: "malformed", author: asMember, editor: asMember, body: `{"content":"x"`, status: 400, code: 50109},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := f.with(t)
			id := f.h.send(c.author(f), f.text, "original")
			before := f.h.must(200, f.h.do("GET", path(id), f.owner.Token, nil)).Obj()
			r := f.h.do("PATCH", path(id), c.editor(f).Token, c.body)
			after := f.h.must(200, f.h.do("GET", path(id), f.owner.Token, nil)).Obj()
			if c.status != 200 {
				if c.field != "" {
					if r.Status != 400 || r.Code() != 50035 || mtFieldCode(r, c.field) == "" {
						t.Fatalf("got %d %s, want 50035 naming %s", r.Status, r.Body, c.field)
					}
				} else {
					f.h.wantErr(r, c.status, c.code)
				}
				if fmt.Sprint(before) != fmt.Sprint(after) {
					t.Fatalf("refused edit changed the message:\n%v\n%v", before, after)
				}
				return
			}
			m := f.h.must(200, r).Obj()
			if m["id"] != id || m["edited_timestamp"] == nil || after["edited_timestamp"] != m["edited_timestamp"] || after["content"] != m["content"] {
				t.Fatalf("edit response %v\nstored %v", m, after)
			}
			c.check(t, f, m)
		})
	}
	t.Run("unknown message", func(t *testing.T) {
		f := f.with(t)
		f.h.wantErr(f.h.do("PATCH", path("123456789012345678"), f.owner.Token, map[string]any{"content": "x"}), 404, 10008)
	})
}

func TestMessageDelete(t *testing.T) {
	f := mtSetup(t)
	path := func(id string) string { return "/channels/" + f.text + "/messages/" + id }
	cases := []struct {
		name    string
		author  func(f *mtFix) user
		deleter func(f *mtFix) user
		status  int
		code    int
	}{
		{"author", asMember, asMember, 204, 0},
		{"owner deletes member's", asMember, func(f *mtFix) user { return f.owner }, 204, 0},
		{"MANAGE_MESSAGES deletes owner's", func(f *mtFix) user { return f.owner }, func(f *mtFix) user { return f.mod }, 204, 0},
		{"member deletes owner's", func(f *mtFix) user { return f.owner }, asMember, 403, 50013},
		{"member deletes moderator's", func(f *mtFix) user { return f.mod }, asMember, 403, 50013},
		{"outsider", asMember, func(f *mtFix) user { return f.outsider }, 403, 50001},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := f.with(t)
			id := f.h.send(c.author(f), f.text, "bye")
			keep := f.h.send(c.author(f), f.text, "stay")
			r := f.h.do("DELETE", path(id), c.deleter(f).Token, nil)
			if c.status == 204 {
				f.h.must(204, r)
				f.h.wantErr(f.h.do("GET", path(id), f.owner.Token, nil), 404, 10008)
				f.h.wantErr(f.h.do("DELETE", path(id), c.deleter(f).Token, nil), 404, 10008)
				if slices.Contains(f.history(f.owner, f.text, ""), id) {
					t.Fatal("deleted message still in history")
				}
			} else {
				f.h.wantErr(r, c.status, c.code)
				f.h.must(200, f.h.do("GET", path(id), f.owner.Token, nil))
			}
			f.h.must(200, f.h.do("GET", path(keep), f.owner.Token, nil))
		})
	}
	t.Run("moderator denied MANAGE_MESSAGES in the channel", func(t *testing.T) {
		f := f.with(t)
		id := f.h.send(f.owner, f.text, "guarded")
		f.overwrite(f.text, f.modRole, 0, 0, perm.ManageMessages)
		defer func() {
			f.h.must(204, f.h.do("DELETE", "/channels/"+f.text+"/permissions/"+f.modRole, f.owner.Token, nil))
		}()
		f.h.wantErr(f.h.do("DELETE", path(id), f.mod.Token, nil), 403, 50013)
	})
	t.Run("unknown", func(t *testing.T) {
		f := f.with(t)
		f.h.wantErr(f.h.do("DELETE", path("123456789012345678"), f.owner.Token, nil), 404, 10008)
	})
}

func TestMessageBulkDelete(t *testing.T) {
	old := snowflake.FromTime(time.Now().Add(-15 * 24 * time.Hour)).String()
	recentUnknown := snowflake.FromTime(time.Now().Add(-time.Hour)).String()
	cases := []struct {
		name    string
		as      func(f *mtFix) user
		ids     func(real []string) any // the "messages" value
		status  int
		code    int
		field   string
		deleted []int // indexes into real that must be gone
	}{
		{name: "owner deletes three", ids: func(r []string) any { return r[:3] }, status: 204, deleted: []int{0, 1, 2}},
		{name: "moderator deletes two", as: func(f *mtFix) user { return f.mod }, ids: func(r []string) any { return r[2:4] }, status: 204, deleted: []int{2, 3}},
		{name: "unknown ids skipped", ids: func(r []string) any { return []string{r[0], recentUnknown} }, status: 204, deleted: []int{0}},
		{name: "duplicates", ids: func(r []string) any { return []string{r[1], r[1], r[4]} }, status: 204, deleted: []int{1, 4}},
		{name: "one hundred", ids: func(r []string) any {
			ids := slices.Clone(r)
			for i := 0; len(ids) < 100; i++ {
				ids = append(ids, snowflake.FromTime(time.Now().Add(-time.Duration(i+1)*time.Minute)).String())
			}
			return ids
		}, status: 204, deleted: []int{0, 1, 2, 3, 4}},
		{name: "numbers as ids", ids: func(r []string) any { return []any{snowflakeNum(r[0]), snowflakeNum(r[1])} }, status: 204, deleted: []int{0, 1}},
		{name: "member", as: asMember, ids: func(r []string) any { return r[:2] }, status: 403, code: 50013},
		{name: "outsider", as: func(f *mtFix) user { return f.outsider }, ids: func(r []string) any { return r[:2] }, status: 403, code: 50001},
		{name: "one", ids: func(r []string) any { return r[:1] }, status: 400, code: 50016},
		{name: "none", ids: func(r []string) any { return []string{} }, status: 400, code: 50016},
		{name: "missing", ids: func(r []string) any { return nil }, status: 400, code: 50016},
		{name: "one hundred and one", ids: func(r []string) any {
			ids := slices.Clone(r)
			for i := 0; len(ids) < 101; i++ {
				ids = append(ids, snowflake.FromTime(time.Now().Add(-time.Duration(i+1)*time.Minute)).String())
			}
			return ids
		}, status: 400, code: 50016},
		{name: "older than two weeks", ids: func(r []string) any { return []string{r[0], old} }, status: 400, code: 50034},
		{name: "not an array", ids: func(r []string) any { return r[0] }, status: 400, field: "messages"},
		{name: "bad snowflake", ids: func(r []string) any { return []string{r[0], "x"} }, status: 400, field: "messages.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := mtSetup(t)
			real := make([]string, 5)
			for i := range real {
				real[i] = f.h.send(f.member, f.text, fmt.Sprint("bulk ", i))
			}
			u := f.owner
			if c.as != nil {
				u = c.as(f)
			}
			body := map[string]any{}
			if v := c.ids(real); v != nil {
				body["messages"] = v
			}
			r := f.h.do("POST", "/channels/"+f.text+"/messages/bulk-delete", u.Token, body)
			switch {
			case c.status == 204:
				f.h.must(204, r)
			case c.field != "":
				if r.Status != 400 || r.Code() != 50035 || mtFieldCode(r, c.field) == "" {
					t.Fatalf("got %d %s, want 50035 naming %s", r.Status, r.Body, c.field)
				}
			default:
				f.h.wantErr(r, c.status, c.code)
			}
			left := f.history(f.owner, f.text, "")
			for i, id := range real {
				if gone := !slices.Contains(left, id); gone != slices.Contains(c.deleted, i) {
					t.Fatalf("message %d deleted: %v; want %v", i, gone, !gone)
				}
			}
		})
	}
}

// snowflakeNum turns "123" into the JSON number 123 (some libraries send
// snowflakes as numbers).
func snowflakeNum(s string) any {
	id, _ := snowflake.Parse(s)
	return uint64(id)
}

// TestDMNeedsASharedGuild: as on Discord, a DM can be opened with anyone,
// but a message only goes through while the two share a guild; the same
// for a bot.
func TestDMNeedsASharedGuild(t *testing.T) {
	h := newHarness(t)
	alice, carol := h.user("alice"), h.user("carol")
	bot := h.bot(carol, "dmbot")
	dm := h.must(200, h.do("POST", "/users/@me/channels", alice.Token, map[string]any{"recipient_id": carol.ID})).Str("id")
	f := &mtFix{h: h}
	h.wantErr(f.post(alice, dm, map[string]any{"content": "hello stranger"}), 403, 50007)
	gid, _ := h.acquaint(alice, carol)
	h.must(200, f.post(alice, dm, map[string]any{"content": "hello neighbour"}))
	h.must(200, f.post(carol, dm, map[string]any{"content": "hi"}))
	h.must(204, h.do("DELETE", "/users/@me/guilds/"+gid, carol.Token, nil))
	h.wantErr(f.post(carol, dm, map[string]any{"content": "after leaving"}), 403, 50007)

	botDM := h.must(200, h.do("POST", "/users/@me/channels", bot.Token, map[string]any{"recipient_id": alice.ID})).Str("id")
	h.wantErr(f.post(bot, botDM, map[string]any{"content": "spam"}), 403, 50007)
	// Alice adds the bot to her guild: now it reaches her.
	h.must(200, h.do("POST", "/oauth2/authorize?client_id="+bot.ID+"&scope=bot", alice.Token, map[string]any{"guild_id": gid, "authorize": true}))
	h.must(200, f.post(bot, botDM, map[string]any{"content": "welcome"}))
}

func TestMessagesInDM(t *testing.T) {
	h := newHarness(t)
	alice, bob, carol := h.user("alice"), h.user("bob"), h.user("carol")
	h.acquaint(alice, bob)
	dm := h.must(200, h.do("POST", "/users/@me/channels", alice.Token, map[string]any{"recipient_id": bob.ID})).Obj()
	ch, _ := dm["id"].(string)
	if dm["type"] != 1.0 || !slices.Equal(mtIDs(dm["recipients"]), []string{bob.ID}) {
		t.Fatalf("DM channel %v", dm)
	}
	if again := h.must(200, h.do("POST", "/users/@me/channels", bob.Token, map[string]any{"recipient_id": alice.ID})).Str("id"); again != ch {
		t.Fatalf("bob's DM with alice is %s, alice's %s", again, ch)
	}
	f := &mtFix{h: h}
	m := h.must(200, f.post(alice, ch, map[string]any{"content": "psst <@" + bob.ID + ">"})).Obj()
	if _, ok := m["guild_id"]; ok || m["member"] != nil || m["channel_id"] != ch {
		t.Fatalf("DM message %v", m)
	}
	if got := mtIDs(m["mentions"]); !slices.Equal(got, []string{bob.ID}) {
		t.Fatalf("mentions %v", got)
	}
	id := m["id"].(string)
	reply := h.must(200, f.post(bob, ch, map[string]any{"content": "hi", "message_reference": map[string]any{"message_id": id}})).Obj()
	if reply["type"] != 19.0 || reply["referenced_message"].(map[string]any)["id"] != id {
		t.Fatalf("DM reply %v", reply)
	}
	if got := f.history(bob, ch, ""); !slices.Equal(got, []string{reply["id"].(string), id}) {
		t.Fatalf("bob sees %v", got)
	}
	if got := h.must(200, h.do("GET", "/channels/"+ch+"/messages/"+id, bob.Token, nil)).Str("content"); got != "psst <@"+bob.ID+">" {
		t.Fatalf("bob reads %q", got)
	}
	cases := []struct {
		name         string
		u            user
		method, path string
		body         any
		status, code int
	}{
		{"third user sends", carol, "POST", "/channels/" + ch + "/messages", map[string]any{"content": "let me in"}, 403, 50001},
		{"third user lists", carol, "GET", "/channels/" + ch + "/messages", nil, 403, 50001},
		{"third user reads", carol, "GET", "/channels/" + ch + "/messages/" + id, nil, 403, 50001},
		{"third user types", carol, "POST", "/channels/" + ch + "/typing", nil, 403, 50001},
		{"recipient deletes sender's", bob, "DELETE", "/channels/" + ch + "/messages/" + id, nil, 403, 50013},
		{"recipient edits sender's", bob, "PATCH", "/channels/" + ch + "/messages/" + id, map[string]any{"content": "x"}, 403, 50005},
		{"bulk delete", alice, "POST", "/channels/" + ch + "/messages/bulk-delete", map[string]any{"messages": []string{id, reply["id"].(string)}}, 403, 50003},
		{"DM with self", alice, "POST", "/users/@me/channels", map[string]any{"recipient_id": alice.ID}, 403, 50007},
		{"DM with nobody", alice, "POST", "/users/@me/channels", map[string]any{"recipient_id": "123456789012345678"}, 400, 50035},
		{"DM without recipient", alice, "POST", "/users/@me/channels", map[string]any{}, 400, 50035},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := *h
			h.t = t
			h.wantErr(h.do(c.method, c.path, c.u.Token, c.body), c.status, c.code)
		})
	}
	// The author may still edit and delete.
	h.must(200, h.do("PATCH", "/channels/"+ch+"/messages/"+id, alice.Token, map[string]any{"content": "edited"}))
	h.must(204, h.do("DELETE", "/channels/"+ch+"/messages/"+id, alice.Token, nil))
	if got := f.history(bob, ch, ""); !slices.Equal(got, []string{reply["id"].(string)}) {
		t.Fatalf("after delete bob sees %v", got)
	}
}

// mtFile is one part of a multipart upload.
type mtFile struct {
	field, name, ctype string
	data               []byte
}

// mtMultipart sends a multipart/form-data request with a payload_json
// part (omitted when payload is "") and files.
func (f *mtFix) mtMultipart(method, path, token, payload string, files ...mtFile) resp {
	f.h.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if payload != "" {
		hdr := textproto.MIMEHeader{}
		hdr.Set("Content-Disposition", `form-data; name="payload_json"`)
		hdr.Set("Content-Type", "application/json")
		p, _ := w.CreatePart(hdr)
		p.Write([]byte(payload))
	}
	for _, file := range files {
		hdr := textproto.MIMEHeader{}
		hdr.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, file.field, file.name))
		if file.ctype != "" {
			hdr.Set("Content-Type", file.ctype)
		}
		p, _ := w.CreatePart(hdr)
		p.Write(file.data)
	}
	w.Close()
	return f.mtRaw(method, path, token, w.FormDataContentType(), buf.Bytes())
}

func (f *mtFix) mtRaw(method, path, token, ctype string, body []byte) resp {
	f.h.t.Helper()
	req, err := http.NewRequest(method, f.h.srv.URL+"/api/v10"+path, bytes.NewReader(body))
	if err != nil {
		f.h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", token)
	res, err := f.h.srv.Client().Do(req)
	if err != nil {
		f.h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// mtStoredFiles lists the files in the store, as "channel/attachment",
// and whatever is on disk under the harness directory's attachments
// folder (where uploads are spooled), as "disk/" and its path there.
func (f *mtFix) mtStoredFiles() []string {
	f.h.t.Helper()
	out := f.h.files.keys()
	root := filepath.Join(f.h.dir, "attachments")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, "disk/"+filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		f.h.t.Fatal(err)
	}
	return out
}

func (f *mtFix) fetch(url string) (int, []byte, http.Header) {
	f.h.t.Helper()
	res, err := f.h.srv.Client().Get(url)
	if err != nil {
		f.h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b, res.Header
}

func TestMessageAttachments(t *testing.T) {
	f := mtSetup(t)
	msgs := "/channels/" + f.text + "/messages"
	hello := []byte("hello, attachment\x00\xff binary too")
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 3000)...)

	t.Run("upload and fetch", func(t *testing.T) {
		f := f.with(t)
		r := f.h.must(200, f.mtMultipart("POST", msgs, f.member.Token,
			`{"content":"files!","attachments":[{"id":0,"description":"a greeting"},{"id":1,"filename":"picture.png"}]}`,
			mtFile{"files[0]", "hello.txt", "", hello}, mtFile{"files[1]", "ignored.bin", "image/png", png}))
		m := r.Obj()
		atts, _ := m["attachments"].([]any)
		if m["content"] != "files!" || len(atts) != 2 {
			t.Fatalf("message %s", r.Body)
		}
		want := []struct {
			name, ctype, desc string
			data              []byte
		}{{"hello.txt", "text/plain", "a greeting", hello}, {"picture.png", "image/png", "", png}}
		for i, w := range want {
			a := atts[i].(map[string]any)
			id, _ := a["id"].(string)
			if _, err := snowflake.Parse(id); err != nil {
				t.Fatalf("attachment id %v", a["id"])
			}
			prefix := f.h.srv.URL + "/attachments/" + f.text + "/" + id + "/"
			if a["filename"] != w.name || a["size"] != float64(len(w.data)) || unsigned(a["url"]) != prefix+w.name || unsigned(a["proxy_url"]) != prefix+w.name ||
				!strings.HasPrefix(fmt.Sprint(a["content_type"]), w.ctype) {
				t.Fatalf("attachment %d: %v", i, a)
			}
			if d, _ := a["description"].(string); d != w.desc {
				t.Fatalf("description %q, want %q", d, w.desc)
			}
			status, body, hdr := f.fetch(a["url"].(string))
			if status != 200 || !bytes.Equal(body, w.data) {
				t.Fatalf("fetch %s: %d, %d bytes", a["url"], status, len(body))
			}
			if hdr.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("headers %v", hdr)
			}
		}
		got := f.h.must(200, f.h.do("GET", msgs+"/"+m["id"].(string), f.owner.Token, nil)).Obj()
		// The same files, signed afresh.
		if fmt.Sprint(withoutURLs(got["attachments"])) != fmt.Sprint(withoutURLs(m["attachments"])) {
			t.Fatalf("stored attachments %v", got["attachments"])
		}
	})

	t.Run("active content is downloaded, never run", func(t *testing.T) {
		f := f.with(t)
		page := []byte("<!doctype html><script>fetch('/api/v10/users/@me')</script>")
		cases := []struct {
			name, declared string
			inline         bool
			ctype          string
		}{
			{"page.html", "text/html", false, "text/html"},
			{"page.htm", "", false, "text/html"},
			{"drawing.svg", "image/svg+xml", false, "image/svg+xml"},
			{"feed.xml", "text/xml", false, "xml"},
			{"app.js", "text/javascript", false, "javascript"},
			{"noextension", "", false, "application/octet-stream"},
			{"looks.txt", "text/html", true, "text/plain; charset=utf-8"},
			{"picture.png", "image/png", true, "image/png"},
		}
		for _, c := range cases {
			r := f.h.must(200, f.mtMultipart("POST", msgs, f.member.Token, "", mtFile{"file", c.name, c.declared, page}))
			url := r.Obj()["attachments"].([]any)[0].(map[string]any)["url"].(string)
			status, body, hdr := f.fetch(url)
			if status != 200 || !bytes.Equal(body, page) {
				t.Fatalf("%s: %d, %q", c.name, status, body)
			}
			disp := hdr.Get("Content-Disposition")
			if strings.HasPrefix(disp, "inline") != c.inline || !strings.Contains(disp, c.name) {
				t.Fatalf("%s: Content-Disposition %q, inline want %v", c.name, disp, c.inline)
			}
			if ct := hdr.Get("Content-Type"); !strings.Contains(ct, c.ctype) {
				t.Fatalf("%s: Content-Type %q, want %q", c.name, ct, c.ctype)
			}
			if !strings.Contains(hdr.Get("Content-Security-Policy"), "sandbox") || hdr.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("%s: headers %v", c.name, hdr)
			}
		}
	})

	t.Run("file only", func(t *testing.T) {
		f := f.with(t)
		r := f.h.must(200, f.mtMultipart("POST", msgs, f.member.Token, "", mtFile{"file", "data.bin", "application/octet-stream", []byte{1, 2, 3}}))
		atts := r.Obj()["attachments"].([]any)
		if len(atts) != 1 || r.Obj()["content"] != "" || atts[0].(map[string]any)["filename"] != "data.bin" {
			t.Fatalf("message %s", r.Body)
		}
	})

	t.Run("path traversal", func(t *testing.T) {
		f := f.with(t)
		cases := []struct {
			partName, refName, want string
		}{
			{"../../../../evil.txt", "", "evil.txt"},
			{`..\..\evil2.txt`, "", "evil2.txt"},
			{"fine.txt", "../../store/evil3 name.txt", "evil3_name.txt"},
			{"fine.txt", `C:\Windows\evil4.txt`, "evil4.txt"},
			{"fine.txt", "..", "unknown"},
			{"fine.txt", "/", "unknown"},
			{"fine.txt", ".hidden", "hidden"},
			{"fine.txt", "a/../../b/%2e%2e%2fx.txt", "2e2e2fx.txt"},
		}
		for _, c := range cases {
			payload := `{"content":"x"}`
			if c.refName != "" {
				payload = fmt.Sprintf(`{"content":"x","attachments":[{"id":0,"filename":%q}]}`, c.refName)
			}
			r := f.h.must(200, f.mtMultipart("POST", msgs, f.member.Token, payload, mtFile{"files[0]", c.partName, "text/plain", []byte(c.want)}))
			a := r.Obj()["attachments"].([]any)[0].(map[string]any)
			if a["filename"] != c.want || !strings.HasSuffix(unsigned(a["url"]), "/"+a["id"].(string)+"/"+c.want) {
				t.Fatalf("%q/%q stored as %v (%v)", c.partName, c.refName, a["filename"], a["url"])
			}
			if status, body, _ := f.fetch(a["url"].(string)); status != 200 || string(body) != c.want {
				t.Fatalf("fetch %s: %d %q", a["url"], status, body)
			}
		}
		// Every file is in the store under its channel, none is left on
		// disk, and nothing was written next to the store.
		for _, p := range f.mtStoredFiles() {
			if parts := strings.Split(p, "/"); len(parts) != 2 || parts[0] != f.text {
				t.Fatalf("file stored at %s", p)
			}
		}
		for _, pattern := range []string{"*/evil*", "evil*", "../evil*", "*/*/evil*"} {
			if matches, _ := filepath.Glob(filepath.Join(f.h.dir, pattern)); len(matches) != 0 {
				t.Fatalf("escaped files: %v", matches)
			}
		}
		for _, p := range []string{"/attachments/" + f.text + "/1/..%2F..%2Fstore", "/attachments/" + f.text + "/x/a.txt", "/attachments/../../etc/passwd"} {
			if status, _, _ := f.fetch(f.h.srv.URL + p); status != 404 {
				t.Fatalf("GET %s: %d", p, status)
			}
		}
	})

	// Files are served from the store with their length, byte ranges
	// (across chunk boundaries) and caching headers.
	t.Run("ranges and caching", func(t *testing.T) {
		f := f.with(t)
		data := make([]byte, 600<<10)
		for i := range data {
			data[i] = byte(i * 7)
		}
		r := f.h.must(200, f.mtMultipart("POST", msgs, f.member.Token, `{"content":"big"}`, mtFile{"files[0]", "data.bin", "", data}))
		url := r.Obj()["attachments"].([]any)[0].(map[string]any)["url"].(string)
		get := func(hdr map[string]string) (*http.Response, []byte) {
			req, _ := http.NewRequest("GET", url, nil)
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			res, err := f.h.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res, b
		}
		res, body := get(nil)
		if res.StatusCode != 200 || !bytes.Equal(body, data) || res.Header.Get("Content-Length") != strconv.Itoa(len(data)) ||
			res.Header.Get("Accept-Ranges") != "bytes" || !strings.Contains(res.Header.Get("Cache-Control"), "max-age") || res.Header.Get("ETag") == "" {
			t.Fatalf("GET: %d, %d bytes, headers %v", res.StatusCode, len(body), res.Header)
		}
		lo, hi := 262_000, 262_999 // across the first chunk boundary (256 KiB)
		res, body = get(map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", lo, hi)})
		if res.StatusCode != 206 || !bytes.Equal(body, data[lo:hi+1]) || res.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", lo, hi, len(data)) {
			t.Fatalf("range: %d, %d bytes, Content-Range %q", res.StatusCode, len(body), res.Header.Get("Content-Range"))
		}
		res, body = get(map[string]string{"Range": "bytes=-10"})
		if res.StatusCode != 206 || !bytes.Equal(body, data[len(data)-10:]) {
			t.Fatalf("suffix range: %d %v", res.StatusCode, body)
		}
		if res, _ := get(map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(data)+5)}); res.StatusCode != 416 {
			t.Fatalf("range past the end: %d, want 416", res.StatusCode)
		}
		etag := res.Header.Get("ETag")
		if res, body := get(map[string]string{"If-None-Match": etag}); res.StatusCode != 304 || len(body) != 0 {
			t.Fatalf("If-None-Match %s: %d, %d bytes; want 304", etag, res.StatusCode, len(body))
		}
	})

	// A file uploaded before files moved into the store, still on the
	// node's disk, is served from there.
	t.Run("file on disk from before the store", func(t *testing.T) {
		f := f.with(t)
		dir := filepath.Join(f.h.dir, "attachments", f.text, "1234567")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "old.txt"), []byte("from the disk"), 0o644); err != nil {
			t.Fatal(err)
		}
		url := f.h.api.urls.sign(f.h.srv.URL + "/attachments/" + f.text + "/1234567/old.txt")
		if status, body, hdr := f.fetch(url); status != 200 || string(body) != "from the disk" || hdr.Get("Content-Security-Policy") == "" {
			t.Fatalf("legacy file: %d %q %v", status, body, hdr)
		}
		if status, _, _ := f.fetch(f.h.api.urls.sign(f.h.srv.URL + "/attachments/" + f.text + "/1234567/other.txt")); status != 404 {
			t.Fatalf("a name not on disk: %d, want 404", status)
		}
		os.RemoveAll(filepath.Join(f.h.dir, "attachments", f.text))
	})

	// Discord's default limit, 10 MiB for a message's files: at the limit
	// the upload goes through, past it 413 with code 40005 and no file kept.
	t.Run("size limit", func(t *testing.T) {
		f := f.with(t)
		before := len(f.mtStoredFiles())
		big := bytes.Repeat([]byte{'a'}, 10<<20-4096) // the multipart framing takes the rest
		f.h.must(200, f.mtMultipart("POST", msgs, f.member.Token, `{"content":"big"}`, mtFile{"files[0]", "big.txt", "text/plain", big}))
		f.h.wantErr(f.mtMultipart("POST", msgs, f.member.Token, `{"content":"too big"}`,
			mtFile{"files[0]", "big.txt", "text/plain", append(big, make([]byte, 8192)...)}), 413, 40005)
		if n := len(f.mtStoredFiles()); n != before+1 {
			t.Fatalf("%d files stored, want %d: the refused upload left one", n, before+1)
		}
	})

	// An attachment's ID keeps the snowflake's time but nothing else of
	// the sequence: it cannot be worked out from its message's ID.
	t.Run("unguessable ids", func(t *testing.T) {
		f := f.with(t)
		var lows []uint64
		for i := range 8 {
			r := f.h.must(200, f.mtMultipart("POST", msgs, f.member.Token, `{"content":"x"}`,
				mtFile{"files[0]", "a.txt", "text/plain", []byte("a")}, mtFile{"files[1]", "b.txt", "text/plain", []byte("b")}))
			msgID, _ := strconv.ParseUint(r.Str("id"), 10, 64)
			for _, a := range r.Obj()["attachments"].([]any) {
				id, _ := strconv.ParseUint(a.(map[string]any)["id"].(string), 10, 64)
				if d := int64(id>>22) - int64(msgID>>22); d < -60_000 || d > 60_000 {
					t.Fatalf("upload %d: attachment %d is %d ms from its message %d", i, id, d, msgID)
				}
				lows = append(lows, id&(1<<22-1))
			}
		}
		// Sequential IDs share worker and process bits and differ by a few
		// increments; 16 random draws of 22 bits spread far wider.
		lo, hi := slices.Min(lows), slices.Max(lows)
		if hi-lo < 1<<18 {
			t.Fatalf("the low 22 bits of 16 attachment IDs lie within %d of each other: %v", hi-lo, lows)
		}
	})

	// Refused uploads leave no file behind, neither in place nor spooled.
	refused := []struct {
		name         string
		setup        func(f *mtFix)
		method, path string
		payload      string
		files        []mtFile
		status, code int
	}{
		{"ATTACH_FILES denied", func(f *mtFix) { f.deny(f.text, f.member, perm.AttachFiles) }, "POST", "",
			`{"content":"x"}`, []mtFile{{"files[0]", "a.txt", "", hello}}, 403, 50013},
		{"SEND_MESSAGES denied", func(f *mtFix) { f.deny(f.text, f.member, perm.SendMessages) }, "POST", "",
			`{"content":"x"}`, []mtFile{{"files[0]", "a.txt", "", hello}}, 403, 50013},
		{"bad embed", nil, "POST", "", `{"embeds":[{"title":"` + strings.Repeat("t", 300) + `"}]}`,
			[]mtFile{{"files[0]", "a.txt", "", hello}}, 400, 50035},
		{"content too long", nil, "POST", "", `{"content":"` + strings.Repeat("c", 2001) + `"}`,
			[]mtFile{{"files[0]", "a.txt", "", hello}}, 400, 50035},
		{"description too long", nil, "POST", "", `{"attachments":[{"id":0},{"id":1,"description":"` + strings.Repeat("d", 1025) + `"}]}`,
			[]mtFile{{"files[0]", "a.txt", "", hello}, {"files[1]", "b.txt", "", hello}}, 400, 50035},
		{"malformed payload_json", nil, "POST", "", `{"content":`, []mtFile{{"files[0]", "a.txt", "", hello}}, 400, 50109},
		{"eleven files", nil, "POST", "", `{"content":"x"}`, slices.Repeat([]mtFile{{"files[0]", "a.txt", "", hello}}, 11), 400, 50035},
		{"files on edit", nil, "PATCH", "", `{"content":"x"}`, []mtFile{{"files[0]", "a.txt", "", hello}}, 400, 50035},
		{"unknown channel", nil, "POST", "/channels/123456789012345678/messages", `{"content":"x"}`, []mtFile{{"files[0]", "a.txt", "", hello}}, 404, 10003},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			f := mtSetup(t)
			if c.setup != nil {
				c.setup(f)
			}
			path := c.path
			switch {
			case path == "" && c.method == "PATCH":
				path = "/channels/" + f.text + "/messages/" + f.h.send(f.member, f.text, "to edit")
			case path == "":
				path = "/channels/" + f.text + "/messages"
			}
			r := f.mtMultipart(c.method, path, f.member.Token, c.payload, c.files...)
			f.h.wantErr(r, c.status, c.code)
			if left := f.mtStoredFiles(); len(left) != 0 {
				t.Fatalf("files left behind: %v", left)
			}
			if n := len(f.history(f.owner, f.text, "")); c.method == "POST" && n != 0 || c.method == "PATCH" && n != 1 {
				t.Fatal("refused upload stored a message")
			}
		})
	}

	t.Run("malformed multipart", func(t *testing.T) {
		f := f.with(t)
		for _, body := range []string{"garbage", "--xyz\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"a\"\r\n\r\nunterminated"} {
			r := f.mtRaw("POST", msgs, f.member.Token, "multipart/form-data; boundary=xyz", []byte(body))
			f.h.wantErr(r, 400, 50035)
		}
		r := f.mtRaw("POST", msgs, f.member.Token, "multipart/form-data", []byte("no boundary"))
		f.h.wantErr(r, 400, 50035)
	})

	t.Run("edit keeps chosen attachments", func(t *testing.T) {
		f := f.with(t)
		m := f.h.must(200, f.mtMultipart("POST", msgs, f.member.Token, `{"content":"two"}`,
			mtFile{"files[0]", "a.txt", "", []byte("a")}, mtFile{"files[1]", "b.txt", "", []byte("b")})).Obj()
		atts := m["attachments"].([]any)
		keep := atts[1].(map[string]any)["id"]
		e := f.h.must(200, f.h.do("PATCH", msgs+"/"+m["id"].(string), f.member.Token, map[string]any{"attachments": []any{map[string]any{"id": keep}}})).Obj()
		if got := mtIDs(e["attachments"]); !slices.Equal(got, []string{keep.(string)}) {
			t.Fatalf("kept %v", got)
		}
		e = f.h.must(200, f.h.do("PATCH", msgs+"/"+m["id"].(string), f.member.Token, map[string]any{"attachments": []any{}})).Obj()
		if len(e["attachments"].([]any)) != 0 || e["content"] != "two" {
			t.Fatalf("after removing all: %v", e)
		}
		// A message that is only a file cannot lose it.
		only := f.h.must(200, f.mtMultipart("POST", msgs, f.member.Token, "", mtFile{"files[0]", "a.txt", "", []byte("a")})).Str("id")
		f.h.wantErr(f.h.do("PATCH", msgs+"/"+only, f.member.Token, map[string]any{"attachments": []any{}}), 400, 50006)
		if got := f.h.must(200, f.h.do("GET", msgs+"/"+only, f.member.Token, nil)).Obj()["attachments"].([]any); len(got) != 1 {
			t.Fatalf("attachments after refused edit: %v", got)
		}
	})
}

// unsigned is an attachment URL without its signature.
func unsigned(v any) string {
	s, _ := v.(string)
	if i := strings.IndexByte(s, '?'); i >= 0 {
		return s[:i]
	}
	return s
}

// withoutURLs is a list of attachments without their (signed) URLs.
func withoutURLs(v any) []map[string]any {
	var out []map[string]any
	for _, a := range v.([]any) {
		m := map[string]any{}
		for k, x := range a.(map[string]any) {
			if k != "url" && k != "proxy_url" {
				m[k] = x
			}
		}
		out = append(out, m)
	}
	return out
}
