package rest

// Fuzz targets for the request body decoders, and a sweep of every route
// that takes a body with garbage. Under plain `go test` the targets run
// their seed corpora only; run one for real with, e.g.,
//
//	go test ./edge/rest/ -run x -fuzz FuzzDecodeMessageBody -fuzztime 20000x
//
// Helpers here are prefixed "fz".

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/core/store/pebblestore"
	"github.com/accord-chat/accord/internal/accordtest"
)

// fzCheckErr fails unless err is nil or a client error in Discord's shape:
// 50109 for malformed JSON, 50035 with a field tree, 40005 for size.
func fzCheckErr(t *testing.T, err error, allowed ...int) *apierr.Error {
	t.Helper()
	if err == nil {
		return nil
	}
	var de *apierr.Error
	if !errors.As(err, &de) {
		t.Fatalf("error %T %v is not a *apierr.Error", err, err)
	}
	if len(allowed) == 0 {
		allowed = []int{50035, 50109, 40005}
	}
	ok := false
	for _, c := range allowed {
		ok = ok || de.Code == c
	}
	if !ok || de.Status < 400 || de.Status > 499 {
		t.Fatalf("error %d/%d %q, want a 4xx with one of %v", de.Status, de.Code, de.Message, allowed)
	}
	if de.Code == 50035 && len(de.Errors) == 0 {
		t.Fatalf("50035 without an error tree")
	}
	if raw := apierr.MarshalError(de); !json.Valid(raw) {
		t.Fatalf("error renders as invalid JSON: %q", raw)
	}
	return de
}

// fzAccepted fails if a decoder accepted a body that is not JSON.
func fzAccepted(t *testing.T, data []byte) {
	t.Helper()
	if !json.Valid(data) {
		t.Fatalf("accepted invalid JSON %q", data)
	}
}

var fzMessageSeeds = []string{
	`{"content":"hello"}`,
	`{"content":"hi <@123> <@!456> <@&789> @everyone","tts":true,"nonce":"abc","flags":4}`,
	`{"content":"n","nonce":1234567890123456789}`,
	`{"content":"n","nonce":12.5}`,
	`{"content":"n","nonce":{"a":1}}`,
	`{"content":null,"embeds":[{"title":"t","description":"d","url":"https://x","color":16711680,"footer":{"text":"f"},"author":{"name":"a"},"fields":[{"name":"n","value":"v","inline":true}]}]}`,
	`{"embeds":[{"title":"` + strings.Repeat("t", 300) + `"}]}`,
	`{"embeds":[1,"x",null,[]]}`,
	`{"embeds":[{"color":-1},{"fields":[{}]},{"footer":"x"}]}`,
	`{"embed":{"title":"legacy"}}`,
	`{"embed":null,"embeds":null}`,
	`{"content":"r","message_reference":{"message_id":"1","channel_id":"2","guild_id":3,"fail_if_not_exists":false}}`,
	`{"content":"r","message_reference":{"message_id":"x"}}`,
	`{"content":"r","message_reference":null}`,
	`{"content":"m","allowed_mentions":{"parse":["users","roles","everyone"],"replied_user":true}}`,
	`{"content":"m","allowed_mentions":{"parse":["users"],"users":["1"],"roles":[2]}}`,
	`{"content":"m","allowed_mentions":{"parse":["nope"],"users":["` + strings.Repeat("1,", 3) + `"]}}`,
	`{"content":"m","allowed_mentions":null}`,
	`{"attachments":[{"id":0,"filename":"a.txt","description":"d"},{"id":"1"}]}`,
	`{"content":"x","flags":4096}`,
	`{"content":"x","flags":1e999}`,
	`{"content":"x"}}`,
	`{"content":"x"}]`,
	`{"Content":"case"}`,
	`{"content":"\ud800"}`,
	`[]`,
	``,
}

func FuzzDecodeMessageBody(f *testing.F) {
	for _, s := range fzMessageSeeds {
		f.Add([]byte(s))
	}
	st, err := pebblestore.Open(pebblestore.Options{Dir: filepath.Join(f.TempDir(), "store"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	eng, _ := accordtest.Engine(f, st)
	f.Fuzz(func(t *testing.T, data []byte) {
		var body messageBody
		err := decodeBytes(data, &body)
		if fzCheckErr(t, err) != nil {
			return
		}
		fzAccepted(t, data)
		mp, err := messageParams(&body)
		if de := fzCheckErr(t, err, 50035); de != nil {
			return
		}
		// The engine's own checks run before it looks the channel up, so an
		// unknown channel gets them all and changes nothing.
		_, err = eng.CreateMessage(context.Background(), 1, 1, mp)
		if err == nil {
			t.Fatal("message created in a channel that does not exist")
		}
		fzCheckErr(t, err, 50035, 50006, 10003)
	})
}

func FuzzDecodeChannelBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"general","type":0,"topic":"t","position":3,"parent_id":"123","nsfw":true,"rate_limit_per_user":10}`,
		`{"name":"voice","type":2,"bitrate":64000,"user_limit":10}`,
		`{"topic":null,"parent_id":null,"position":null}`,
		`{"permission_overwrites":[{"id":"1","type":0,"allow":"1024","deny":"2048"},{"id":2,"type":1,"allow":1,"deny":"0"}]}`,
		`{"permission_overwrites":[{"id":"1","type":0,"allow":"18446744073709551615","deny":"18446744073709551616"}]}`,
		`{"permission_overwrites":[{"id":"x"}]}`,
		`{"permission_overwrites":null}`,
		`{"permission_overwrites":{}}`,
		`{"name":5}`,
		`{"type":"0"}`,
		`{"bitrate":1.5}`,
		`{"name":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var body channelBody
		if fzCheckErr(t, decodeBytes(data, &body)) != nil {
			return
		}
		fzAccepted(t, data)
		for _, ow := range overwrites(body.PermissionOverwrites) {
			if ow.Allow&^perm.All != 0 || ow.Deny&^perm.All != 0 {
				t.Fatalf("overwrite keeps undefined bits: %+v", ow)
			}
		}
		if tp := body.Topic.nullable(); (tp != nil) != body.Topic.Set || (tp != nil && (*tp == nil) != body.Topic.Null) {
			t.Fatalf("topic %+v became %v", body.Topic, tp)
		}
	})
}

func FuzzDecodeRoleBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"mods","permissions":"8192","color":16711680,"hoist":true,"mentionable":true}`,
		`{"permissions":8192}`,
		`{"permissions":"18446744073709551615"}`,
		`{"permissions":"18446744073709551616"}`,
		`{"permissions":"-1"}`,
		`{"permissions":"0x10"}`,
		`{"permissions":"\"8\""}`,
		`{"permissions":null,"icon":null,"unicode_emoji":"🔥"}`,
		`{"permissions":true}`,
		`{"color":"red"}`,
		`{"name":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var body roleBody
		if fzCheckErr(t, decodeBytes(data, &body)) != nil {
			return
		}
		fzAccepted(t, data)
		p := body.patch()
		if (p.Permissions != nil) != (body.Permissions.Set && !body.Permissions.Null) {
			t.Fatalf("permissions %+v became %v", body.Permissions, p.Permissions)
		}
		if (p.Name != nil) != (body.Name.Set && !body.Name.Null) {
			t.Fatalf("name %+v became %v", body.Name, p.Name)
		}
	})
}

func FuzzDecodePositions(f *testing.F) {
	for _, s := range []string{
		`[{"id":"1","position":2},{"id":"3","position":0,"parent_id":"4"}]`,
		`[{"id":"1","position":null,"parent_id":null}]`,
		`[]`,
		`null`,
		`{"id":"1"}`,
		`[{"id":"x"}]`,
		`[{"id":"1","position":"2"}]`,
		`[], "items": [{"id":"1","position":5}]`,
		`[]}, {"items": [{"id":"1"}]`,
		`[{"id":"1"}]]`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &request{Request: httptest.NewRequest("PATCH", "/", bytes.NewReader(data))}
		moves, err := decodePositions(r)
		if fzCheckErr(t, err) != nil {
			return
		}
		fzAccepted(t, data)
		var arr []json.RawMessage
		if err := json.Unmarshal(data, &arr); err != nil {
			t.Fatalf("accepted %q, which is not an array: %v", data, err)
		}
		if len(moves) != len(arr) {
			t.Fatalf("%d moves from %d items", len(moves), len(arr))
		}
	})
}

// FuzzReadMultipart feeds multipart bodies to the upload reader: it must
// refuse bad ones with a Discord error and never leave a spooled file.
func FuzzReadMultipart(f *testing.F) {
	const boundary = "fzboundary"
	part := func(name, filename, body string) string {
		cd := `form-data; name="` + name + `"`
		if filename != "" {
			cd += `; filename="` + filename + `"`
		}
		return "--" + boundary + "\r\nContent-Disposition: " + cd + "\r\n\r\n" + body + "\r\n"
	}
	end := "--" + boundary + "--\r\n"
	for _, s := range []string{
		part("payload_json", "", `{"content":"hi"}`) + part("files[0]", "a.txt", "hello") + end,
		part("payload_json", "", `{"content":"hi","attachments":[{"id":0,"filename":"b.png"}]}`) + part("files[0]", "../a.txt", "x") + part("files[1]", "c", "") + end,
		part("file", "a.txt", "x") + part("unknown", "", "y") + end,
		part("files[0]", "a.txt", "x") + part("payload_json", "", `{"content":`) + end,
		part("payload_json", "", `{"content":"x"}}`) + end,
		strings.Repeat(part("files[9]", "a", "z"), 11) + end,
		part("files[0]", "a.txt", strings.Repeat("big", 200)) + end,
		part("files[0]", "a.txt", "no end"),
		"garbage",
		"",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	s := &Server{cfg: Config{AttachmentDir: dir, MaxUpload: 512}}
	tmp := filepath.Join(dir, "tmp")
	f.Fuzz(func(t *testing.T, data []byte) {
		hr := httptest.NewRequest("POST", "/", bytes.NewReader(data))
		hr.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
		r := &request{Request: hr, w: httptest.NewRecorder()}
		var body messageBody
		files, err := s.readMultipart(r, &body)
		if fzCheckErr(t, err) != nil {
			if files != nil {
				t.Fatalf("files returned with an error")
			}
		} else {
			if len(files) > 10 {
				t.Fatalf("%d files accepted", len(files))
			}
			for _, u := range files {
				st, err := os.Stat(u.tmp)
				if err != nil || st.Size() != u.size || filepath.Dir(u.tmp) != tmp {
					t.Fatalf("spooled %+v: %v", u, err)
				}
			}
			discardSpooled(files)
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Fatalf("%d spooled files left behind", len(left))
		}
	})
}

// fzIgnoresBody lists the body-taking methods' routes that, as on Discord,
// take no JSON body and so ignore whatever is sent. Every other POST,
// PATCH and PUT route must refuse a garbage body.
var fzIgnoresBody = map[string]bool{
	"POST /auth/logout":                                                      true,
	"POST /applications/{application_id}/bot/reset":                          true,
	"PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}":               true,
	"POST /channels/{channel_id}/typing":                                     true,
	"PUT /channels/{channel_id}/pins/{message_id}":                           true,
	"PUT /channels/{channel_id}/messages/pins/{message_id}":                  true,
	"POST /invites/{code}":                                                   true,
	"PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me": true,
}

// fzOptionalBody lists routes whose JSON body may be left out entirely.
var fzOptionalBody = map[string]bool{
	"POST /channels/{channel_id}/invites":   true,
	"PUT /guilds/{guild_id}/bans/{user_id}": true,
}

// fzTyped is valid JSON in which every field any route reads has the wrong
// type.
const fzTyped = `{"name":[],"username":[],"password":{},"login":[],"content":{},"description":[],"recipient_id":[],` +
	`"messages":{},"nick":[],"roles":{},"type":"x","max_age":"x","permissions":{},"allow":{},"deny":[],"guild_id":[],` +
	`"authorize":"x","delete_message_seconds":"x","global_name":[],"flags":"x","owner_id":{},"id":{},"position":"x"}`

var fzGarbage = []string{
	"", " ", "not json", "{", `{"name":`, "[", "[1,2", "\x00\x01\xff\xfe", "nul", "0", `"x"`,
	`{"a":1}}`, `{}]`, `{"a":1} {"b":2}`, "{\"name\":\"x\"\x00}", `{"name":"x",}`, `{'name':'x'}`,
	strings.Repeat("[", 5000), strings.Repeat(`{"a":`, 5000), fzTyped,
}

func TestGarbageBodies(t *testing.T) {
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	var routes []string // "METHOD /pattern"
	for _, m := range regexp.MustCompile(`s\.handle\("(POST|PATCH|PUT)", "([^"]+)"`).FindAllStringSubmatch(string(src), -1) {
		routes = append(routes, m[1]+" "+m[2])
	}
	if len(routes) < 30 {
		t.Fatalf("found only %d body routes in routes.go", len(routes))
	}
	for r := range fzIgnoresBody {
		if !strings.Contains(string(src), fmt.Sprintf("%q, %q", strings.Fields(r)[0], strings.Fields(r)[1])) {
			t.Fatalf("%s is listed as ignoring its body but is not in routes.go", r)
		}
	}

	f := mtSetup(t)
	h := f.h
	app, msg, role, code := f.furnish("garbage bot")
	h.must(204, f.react(f.member, f.text, msg, rpThumbs))
	h.must(200, h.do("POST", "/users/@me/channels", f.owner.Token, map[string]any{"recipient_id": f.member.ID}))
	params := map[string]string{
		"guild_id": f.gid, "channel_id": f.text, "message_id": msg, "role_id": role, "user_id": f.member.ID,
		"application_id": app.ID, "overwrite_id": f.member.ID, "code": code, "emoji": url.PathEscape(rpThumbs),
	}
	placeholder := regexp.MustCompile(`\{([a-z_]+)\}`)
	path := func(pattern string) string {
		return placeholder.ReplaceAllStringFunc(pattern, func(p string) string {
			v, ok := params[p[1:len(p)-1]]
			if !ok {
				t.Fatalf("route %s: no value for %s; add one to the test", pattern, p)
			}
			return v
		})
	}
	snapshot := func() string {
		t.Helper()
		var b strings.Builder
		for _, g := range []struct {
			who  user
			path string
		}{
			{f.owner, "/users/@me"}, {f.owner, "/users/@me/guilds"}, {f.owner, "/users/@me/channels"}, {f.member, "/users/@me/guilds"},
			{f.owner, "/guilds/" + f.gid}, {f.owner, "/guilds/" + f.gid + "/channels"}, {f.owner, "/guilds/" + f.gid + "/roles"},
			{f.owner, "/guilds/" + f.gid + "/members?limit=1000"}, {f.owner, "/guilds/" + f.gid + "/bans"}, {f.owner, "/guilds/" + f.gid + "/invites"},
			{f.owner, "/channels/" + f.text}, {f.owner, "/channels/" + f.voice}, {f.owner, "/channels/" + f.text + "/messages?limit=100"},
			{f.owner, "/channels/" + f.text + "/pins"}, {f.owner, "/channels/" + f.text + "/messages/" + msg + "/reactions/" + url.PathEscape(rpThumbs)},
			{f.owner, "/applications/" + app.ID}, {app, "/applications/@me"}, {f.owner, "/invites/" + code},
		} {
			r := h.do("GET", g.path, g.who.Token, nil)
			fmt.Fprintf(&b, "GET %s → %d %s\n", g.path, r.Status, r.Body)
		}
		n := 0
		if err := h.eng.Store().ForEachUser(context.Background(), func(*model.User) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%d users\n", n)
		return b.String()
	}
	before := snapshot()
	for _, route := range routes {
		if fzIgnoresBody[route] {
			continue
		}
		method, pattern, _ := strings.Cut(route, " ")
		token := f.owner.Token
		if strings.HasPrefix(pattern, "/applications/@me") {
			token = app.Token
		}
		for _, g := range fzGarbage {
			if g == "" && fzOptionalBody[route] {
				continue
			}
			r := h.do(method, path(pattern), token, g)
			if r.Status < 400 || r.Status > 499 || r.Code() == 0 && r.Status != 401 && r.Status != 404 ||
				r.Header.Get("Content-Type") != "application/json" || r.Obj()["message"] == nil {
				t.Errorf("%s with %.40q: %d %s", route, g, r.Status, r.Body)
			}
		}
		if after := snapshot(); after != before {
			t.Fatalf("garbage sent to %s changed stored data:\nbefore:\n%s\nafter:\n%s", route, before, after)
		}
	}
	// Routes that take no body must not choke on one either.
	for _, route := range routes {
		if !fzIgnoresBody[route] {
			continue
		}
		method, pattern, _ := strings.Cut(route, " ")
		for _, g := range fzGarbage {
			u := f.member
			if route == "POST /auth/logout" {
				u = h.user("leaver")
			}
			r := h.do(method, path(pattern), u.Token, g)
			if r.Status >= 500 || r.Status >= 400 && r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s with %.40q: %d %s", route, g, r.Status, r.Body)
			}
		}
	}
	// And the server is still fine.
	h.must(200, f.post(f.owner, f.text, map[string]any{"content": "still alive"}))
}

// TestDecodeNamesBadSnowflake checks that a value that is not a snowflake
// is reported at its field, as Discord does, wherever it sits in the body.
func TestDecodeNamesBadSnowflake(t *testing.T) {
	type ownerBody struct {
		OwnerID opt[ID] `json:"owner_id"`
	}
	cases := []struct {
		body string
		dst  any
		path string
	}{
		{`{"message_reference":{"message_id":"abc"}}`, &messageBody{}, "message_reference.message_id"},
		{`{"allowed_mentions":{"users":["1","2","x"]}}`, &messageBody{}, "allowed_mentions.users.2"},
		{`{"allowed_mentions":{"roles":[1.5]}}`, &messageBody{}, "allowed_mentions.roles.0"},
		{`{"parent_id":"-1"}`, &channelBody{}, "parent_id"},
		{`{"permission_overwrites":[{"id":"1","type":0},{"id":true,"type":0}]}`, &channelBody{}, "permission_overwrites.1.id"},
		{`{"owner_id":{}}`, &ownerBody{}, "owner_id"},
		{`{"OWNER_ID":"twelve"}`, &ownerBody{}, "owner_id"},
		{`{"messages":["1","99999999999999999999999"]}`, &struct {
			Messages []ID `json:"messages"`
		}{}, "messages.1"},
	}
	for _, c := range cases {
		t.Run(c.body, func(t *testing.T) {
			de := fzCheckErr(t, decodeBytes([]byte(c.body), c.dst), 50035)
			if de == nil {
				t.Fatal("accepted")
			}
			r := resp{Body: apierr.MarshalError(de)}
			if got := mtFieldCode(r, c.path); got != "NUMBER_TYPE_COERCE" {
				t.Fatalf("errors %s, want NUMBER_TYPE_COERCE at %s", r.Body, c.path)
			}
		})
	}
	// Good snowflakes in every shape decode.
	var b messageBody
	if err := decodeBytes([]byte(`{"message_reference":{"message_id":123,"channel_id":"456"},"allowed_mentions":{"users":[null]}}`), &b); err != nil {
		t.Fatal(err)
	}
}
