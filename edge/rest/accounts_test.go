package rest

// Tests of accounts, applications, users, DMs and the gateway endpoints,
// plus the assertion helpers the other area tests share.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/edge/auth"
)

// ---- helpers shared by accounts_test, guilds_test, channels_test and
// roles_members_test ----

// reqV is h.do under another API prefix ("/api/v9", "/api") with extra
// request headers.
func (h *harness) reqV(prefix, method, path, token string, body any, hdr map[string]string) resp {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.srv.URL+prefix+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// wantFormErr fails unless r is a 400 Invalid Form Body (50035) whose
// errors tree has an _errors list at the dotted path; when code is not
// empty one of those errors must carry it.
func (h *harness) wantFormErr(r resp, path, code string) {
	h.t.Helper()
	h.wantErr(r, 400, 50035)
	node, _ := r.Obj()["errors"].(map[string]any)
	for _, p := range strings.Split(path, ".") {
		next, ok := node[p].(map[string]any)
		if !ok {
			h.t.Fatalf("errors tree has no %q: %s", path, r.Body)
		}
		node = next
	}
	errs, _ := node["_errors"].([]any)
	if len(errs) == 0 {
		h.t.Fatalf("errors tree has no _errors at %q: %s", path, r.Body)
	}
	if code == "" {
		return
	}
	for _, e := range errs {
		if m, _ := e.(map[string]any); m["code"] == code && m["message"] != "" {
			return
		}
	}
	h.t.Fatalf("errors at %q lack code %s: %s", path, code, r.Body)
}

// wantSnowflake fails unless v is a snowflake in its wire form: a
// non-empty, non-zero decimal string.
func (h *harness) wantSnowflake(what string, v any) string {
	h.t.Helper()
	s, ok := v.(string)
	if !ok {
		h.t.Fatalf("%s = %#v, want a snowflake string", what, v)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		h.t.Fatalf("%s = %q, want a snowflake string", what, s)
	}
	return s
}

// wantISOTime fails unless v is an ISO-8601 timestamp string.
func (h *harness) wantISOTime(what string, v any) time.Time {
	h.t.Helper()
	s, ok := v.(string)
	if !ok {
		h.t.Fatalf("%s = %#v, want an ISO-8601 string", what, v)
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		h.t.Fatalf("%s = %q: %v", what, s, err)
	}
	return ts
}

// wantPermString fails unless v is a permission set as a decimal string.
func (h *harness) wantPermString(what string, v any) uint64 {
	h.t.Helper()
	s, ok := v.(string)
	if !ok {
		h.t.Fatalf("%s = %#v, want a decimal string", what, v)
	}
	p, err := perm.Parse(s)
	if err != nil {
		h.t.Fatalf("%s = %q: %v", what, s, err)
	}
	return p
}

// asObj is a JSON value as an object.
func asObj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// idsOf returns the "id" of each object of an array.
func idsOf(arr []any) []string {
	out := make([]string, 0, len(arr))
	for _, v := range arr {
		id, _ := asObj(v)["id"].(string)
		out = append(out, id)
	}
	return out
}

// permStr is a permission set in its wire form.
func permStr(p uint64) string { return strconv.FormatUint(p, 10) }

// mkRole creates a role in the guild as actor and returns its ID.
func (h *harness) mkRole(actor user, gid, name string, perms uint64) string {
	h.t.Helper()
	r := h.must(200, h.do("POST", "/guilds/"+gid+"/roles", actor.Token, map[string]any{"name": name, "permissions": permStr(perms)}))
	return h.wantSnowflake("role id", r.Obj()["id"])
}

// giveRole adds a role to a member as actor.
func (h *harness) giveRole(actor user, gid, uid, rid string) {
	h.t.Helper()
	h.must(204, h.do("PUT", "/guilds/"+gid+"/members/"+uid+"/roles/"+rid, actor.Token, nil))
}

// setEveryone sets the @everyone role's permissions.
func (h *harness) setEveryone(owner user, gid string, perms uint64) {
	h.t.Helper()
	h.must(200, h.do("PATCH", "/guilds/"+gid+"/roles/"+gid, owner.Token, map[string]any{"permissions": permStr(perms)}))
}

// ---- register / login / logout ----

func TestRegisterUsernameRules(t *testing.T) {
	h := newHarness(t)
	long32 := strings.Repeat("a", 32)
	cases := []struct {
		name     string
		body     any
		ok       bool
		field    string // for failures
		code     string // "" = any field error code
		jsonCode int    // 50109 for malformed bodies
	}{
		{name: "two chars", body: map[string]any{"username": "ab", "password": "correct horse"}, ok: true},
		{name: "32 chars", body: map[string]any{"username": long32, "password": "correct horse"}, ok: true},
		{name: "periods underscores digits", body: map[string]any{"username": "a.b_c9", "password": "correct horse"}, ok: true},
		{name: "one char", body: map[string]any{"username": "a", "password": "correct horse"}, field: "username", code: "BASE_TYPE_BAD_LENGTH"},
		{name: "33 chars", body: map[string]any{"username": long32 + "b", "password": "correct horse"}, field: "username", code: "BASE_TYPE_BAD_LENGTH"},
		{name: "empty", body: map[string]any{"username": "", "password": "correct horse"}, field: "username", code: "BASE_TYPE_BAD_LENGTH"},
		{name: "missing", body: map[string]any{"password": "correct horse"}, field: "username", code: "BASE_TYPE_BAD_LENGTH"},
		{name: "upper case", body: map[string]any{"username": "Alice", "password": "correct horse"}, field: "username", code: "USERNAME_INVALID_CHARACTERS"},
		{name: "space", body: map[string]any{"username": "al ice", "password": "correct horse"}, field: "username", code: "USERNAME_INVALID_CHARACTERS"},
		{name: "dash", body: map[string]any{"username": "al-ice", "password": "correct horse"}, field: "username", code: "USERNAME_INVALID_CHARACTERS"},
		{name: "at sign", body: map[string]any{"username": "al@ice", "password": "correct horse"}, field: "username", code: "USERNAME_INVALID_CHARACTERS"},
		{name: "non-ascii", body: map[string]any{"username": "ałice", "password": "correct horse"}, field: "username", code: "USERNAME_INVALID_CHARACTERS"},
		{name: "consecutive periods", body: map[string]any{"username": "al..ice", "password": "correct horse"}, field: "username", code: "USERNAME_INVALID_CHARACTERS"},
		{name: "reserved everyone", body: map[string]any{"username": "everyone", "password": "correct horse"}, field: "username"},
		{name: "reserved here", body: map[string]any{"username": "here", "password": "correct horse"}, field: "username"},
		{name: "contains discord", body: map[string]any{"username": "mydiscord.bot", "password": "correct horse"}, field: "username"},
		{name: "short password", body: map[string]any{"username": "shortpw", "password": "1234567"}, field: "password", code: "BASE_TYPE_BAD_LENGTH"},
		{name: "username wrong type", body: map[string]any{"username": 42, "password": "correct horse"}, field: "username", code: "BASE_TYPE_STRING"},
		{name: "malformed json", body: `{"username": "x"`, jsonCode: 50109},
		{name: "array body", body: `[]`, jsonCode: 50109},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			r := h.do("POST", "/auth/register", "", tc.body)
			switch {
			case tc.ok:
				h.must(201, r)
				h.wantSnowflake("user_id", r.Obj()["user_id"])
				tok := r.Str("token")
				if tok == "" {
					t.Fatalf("no token: %s", r.Body)
				}
				me := h.must(200, h.do("GET", "/users/@me", tok, nil))
				if me.Str("id") != r.Str("user_id") || me.Str("username") != tc.body.(map[string]any)["username"] {
					t.Fatalf("/users/@me = %s", me.Body)
				}
			case tc.jsonCode != 0:
				h.wantErr(r, 400, tc.jsonCode)
			default:
				h.wantFormErr(r, tc.field, tc.code)
			}
		})
	}
}

func TestRegisterDuplicateUsername(t *testing.T) {
	h := newHarness(t)
	first := h.must(201, h.do("POST", "/auth/register", "", map[string]any{"username": "dupe.name", "password": "correct horse"}))
	for _, name := range []string{"dupe.name", "DUPE.NAME", "Dupe.Name"} {
		r := h.do("POST", "/auth/register", "", map[string]any{"username": name, "password": "another pass"})
		h.wantErr(r, 400, 50035)
		if name == "dupe.name" {
			h.wantFormErr(r, "username", "USERNAME_ALREADY_TAKEN")
		}
	}
	// The login is case-insensitive and still reaches the first account.
	r := h.must(200, h.do("POST", "/auth/login", "", map[string]any{"login": "DUPE.NAME", "password": "correct horse"}))
	if r.Str("user_id") != first.Str("user_id") {
		t.Fatalf("login reached %s, want %s", r.Str("user_id"), first.Str("user_id"))
	}
	// The second registration's password never took.
	h.wantErr(h.do("POST", "/auth/login", "", map[string]any{"login": "dupe.name", "password": "another pass"}), 400, 50035)
}

func TestLogin(t *testing.T) {
	h := newHarness(t)
	u := h.user("login")
	cases := []struct {
		name     string
		body     any
		ok       bool
		jsonCode int
	}{
		{name: "correct", body: map[string]any{"login": u.Name, "password": "correct horse"}, ok: true},
		{name: "upper-case login", body: map[string]any{"login": strings.ToUpper(u.Name), "password": "correct horse"}, ok: true},
		{name: "wrong password", body: map[string]any{"login": u.Name, "password": "wrong horse"}},
		{name: "empty password", body: map[string]any{"login": u.Name, "password": ""}},
		{name: "unknown login", body: map[string]any{"login": "nobody.here", "password": "correct horse"}},
		{name: "malformed", body: `{"login":`, jsonCode: 50109},
		{name: "login wrong type", body: map[string]any{"login": 7, "password": "x"}, jsonCode: 50035},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			r := h.do("POST", "/auth/login", "", tc.body)
			switch {
			case tc.ok:
				h.must(200, r)
				if r.Str("user_id") != u.ID || r.Str("token") == "" || r.Str("token") == u.Token {
					t.Fatalf("login = %s", r.Body)
				}
				h.must(200, h.do("GET", "/users/@me", r.Str("token"), nil))
			case tc.jsonCode != 0:
				h.wantErr(r, 400, tc.jsonCode)
			default:
				h.wantFormErr(r, "login", "INVALID_LOGIN")
				h.wantFormErr(r, "password", "INVALID_LOGIN")
				if r.Str("token") != "" {
					t.Fatalf("failed login returned a token: %s", r.Body)
				}
			}
		})
	}
}

func TestLogoutRevokesOnlyThatToken(t *testing.T) {
	h := newHarness(t)
	u := h.user("logout")
	second := h.must(200, h.do("POST", "/auth/login", "", map[string]any{"login": u.Name, "password": "correct horse"})).Str("token")
	// Warm the verifier's cache with the first token.
	h.must(200, h.do("GET", "/users/@me", u.Token, nil))

	h.wantErr(h.do("POST", "/auth/logout", "", nil), 401, 0)
	h.wantErr(h.do("POST", "/auth/logout", "not-a-token", nil), 401, 0)

	h.must(204, h.do("POST", "/auth/logout", u.Token, nil))
	h.wantErr(h.do("GET", "/users/@me", u.Token, nil), 401, 0)
	h.wantErr(h.do("POST", "/auth/logout", u.Token, nil), 401, 0)
	me := h.must(200, h.do("GET", "/users/@me", second, nil))
	if me.Str("id") != u.ID {
		t.Fatalf("second token is %s", me.Body)
	}
	// The revoked token stays revoked across the v9 prefix too.
	h.wantErr(h.reqV("/api/v9", "GET", "/users/@me", u.Token, nil, nil), 401, 0)
}

// Renaming must retire the old login: the old name neither logs in nor
// stays reserved.
func TestRenameRetiresOldLogin(t *testing.T) {
	h := newHarness(t)
	h.must(201, h.do("POST", "/auth/register", "", map[string]any{"username": "oldname", "password": "correct horse"}))
	tok := h.must(200, h.do("POST", "/auth/login", "", map[string]any{"login": "oldname", "password": "correct horse"})).Str("token")
	me := h.must(200, h.do("PATCH", "/users/@me", tok, map[string]any{"username": "newname"}))
	if me.Str("username") != "newname" {
		t.Fatalf("rename = %s", me.Body)
	}
	h.must(200, h.do("POST", "/auth/login", "", map[string]any{"login": "newname", "password": "correct horse"}))
	h.wantFormErr(h.do("POST", "/auth/login", "", map[string]any{"login": "oldname", "password": "correct horse"}), "login", "INVALID_LOGIN")

	// The old name is free again, and logging in with it reaches the new owner.
	other := h.must(201, h.do("POST", "/auth/register", "", map[string]any{"username": "oldname", "password": "other horse"}))
	r := h.must(200, h.do("POST", "/auth/login", "", map[string]any{"login": "oldname", "password": "other horse"}))
	if r.Str("user_id") != other.Str("user_id") || r.Str("user_id") == me.Str("id") {
		t.Fatalf("login oldname reached %s", r.Body)
	}
	h.wantErr(h.do("POST", "/auth/login", "", map[string]any{"login": "oldname", "password": "correct horse"}), 400, 50035)
}

// A password change needs the current password, then voids every token
// the user had (cached or not, on this node or read afresh from the store)
// and answers with the one token that replaces them.
func TestPasswordChangeRevokesEveryOtherToken(t *testing.T) {
	h := newHarness(t)
	u := h.user("pwchange")
	second := h.must(200, h.do("POST", "/auth/login", "", map[string]any{"login": u.Name, "password": "correct horse"})).Str("token")
	h.must(200, h.do("GET", "/users/@me", u.Token, nil)) // cached
	refused := []struct {
		name        string
		body        map[string]any
		field, code string
	}{
		{"no current password", map[string]any{"new_password": "battery staple"}, "password", "BASE_TYPE_REQUIRED"},
		{"wrong current password", map[string]any{"password": "wrong horse", "new_password": "battery staple"}, "password", "PASSWORD_DOES_NOT_MATCH"},
		{"short new password", map[string]any{"password": "correct horse", "new_password": "short"}, "new_password", "BASE_TYPE_BAD_LENGTH"},
		{"not a string", map[string]any{"password": "correct horse", "new_password": 12345678}, "new_password", "BASE_TYPE_STRING"},
	}
	for _, c := range refused {
		h.wantFormErr(h.do("PATCH", "/users/@me", u.Token, c.body), c.field, c.code)
	}
	// Nothing changed: both tokens and the old password still work.
	h.must(200, h.do("GET", "/users/@me", u.Token, nil))
	h.must(200, h.do("GET", "/users/@me", second, nil))
	h.must(200, h.do("POST", "/auth/login", "", map[string]any{"login": u.Name, "password": "correct horse"}))

	r := h.must(200, h.do("PATCH", "/users/@me", second, map[string]any{"password": "correct horse", "new_password": "battery staple", "global_name": "Changed"}))
	fresh := r.Str("token")
	if fresh == "" || fresh == second || r.Str("id") != u.ID || r.Str("global_name") != "Changed" {
		t.Fatalf("password change answered %s", r.Body)
	}
	for _, old := range []string{u.Token, second} {
		h.wantErr(h.do("GET", "/users/@me", old, nil), 401, 0)
	}
	h.must(200, h.do("GET", "/users/@me", fresh, nil))
	h.wantFormErr(h.do("POST", "/auth/login", "", map[string]any{"login": u.Name, "password": "correct horse"}), "login", "INVALID_LOGIN")
	later := h.must(200, h.do("POST", "/auth/login", "", map[string]any{"login": u.Name, "password": "battery staple"})).Str("token")
	h.must(200, h.do("GET", "/users/@me", later, nil))

	// A verifier that never saw the change (another node, a restart)
	// reads the cutoff from the store.
	v := auth.NewVerifier(h.eng.Store())
	ctx := context.Background()
	for _, old := range []string{u.Token, second} {
		if _, err := v.Verify(ctx, old); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("a fresh verifier took a token from before the change: %v", err)
		}
	}
	for _, tok := range []string{fresh, later} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("a fresh verifier refused a token from after the change: %v", err)
		}
	}

	// A rename after the change keeps the cutoff (the credentials move).
	h.must(200, h.do("PATCH", "/users/@me", fresh, map[string]any{"username": u.Name + "x"}))
	if _, err := auth.NewVerifier(h.eng.Store()).Verify(ctx, u.Token); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("after a rename, a token from before the change verifies: %v", err)
	}

	// Bots have no password to change.
	bot := h.bot(user{Token: fresh, ID: u.ID}, "nopassword")
	h.wantFormErr(h.do("PATCH", "/users/@me", bot.Token, map[string]any{"password": "x", "new_password": "battery staple"}), "new_password", "PASSWORD_NONE")
	h.must(200, h.do("GET", "/users/@me", bot.Token, nil))
}

// ---- applications and bots ----

func TestCreateApplication(t *testing.T) {
	h := newHarness(t)
	owner := h.user("appowner")
	r := h.must(201, h.do("POST", "/applications", owner.Token, map[string]any{"name": "  Helper Bot ", "description": "helps"}))
	app := r.Obj()
	id := h.wantSnowflake("id", app["id"])
	if app["name"] != "Helper Bot" || app["description"] != "helps" || app["bot_public"] != true {
		t.Fatalf("application = %s", r.Body)
	}
	if tok, _ := app["token"].(string); tok == "" {
		t.Fatalf("no token: %s", r.Body)
	}
	if vk, _ := app["verify_key"].(string); len(vk) != 64 {
		t.Fatalf("verify_key = %v", app["verify_key"])
	}
	bot := asObj(app["bot"])
	if bot["id"] != id || bot["bot"] != true || bot["username"] != "Helper Bot" {
		t.Fatalf("bot = %v", bot)
	}
	if asObj(app["owner"])["id"] != owner.ID {
		t.Fatalf("owner = %v", app["owner"])
	}
	botTok := "Bot " + app["token"].(string)
	me := h.must(200, h.do("GET", "/users/@me", botTok, nil)).Obj()
	if me["id"] != id || me["bot"] != true {
		t.Fatalf("bot /users/@me = %v", me)
	}

	cases := []struct {
		name   string
		token  string
		body   any
		status int
		code   int
		field  string
	}{
		{name: "empty name", token: owner.Token, body: map[string]any{"name": ""}, status: 400, code: 50035, field: "name"},
		{name: "blank name", token: owner.Token, body: map[string]any{"name": "   "}, status: 400, code: 50035, field: "name"},
		{name: "long name", token: owner.Token, body: map[string]any{"name": strings.Repeat("n", 101)}, status: 400, code: 50035, field: "name"},
		{name: "long description", token: owner.Token, body: map[string]any{"name": "x", "description": strings.Repeat("d", 401)}, status: 400, code: 50035, field: "description"},
		{name: "name wrong type", token: owner.Token, body: map[string]any{"name": []int{1}}, status: 400, code: 50035, field: "name"},
		{name: "malformed", token: owner.Token, body: `{`, status: 400, code: 50109},
		{name: "bots cannot", token: botTok, body: map[string]any{"name": "Sub Bot"}, status: 403, code: 20001},
		{name: "no auth", token: "", body: map[string]any{"name": "Anon"}, status: 401, code: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			r := h.do("POST", "/applications", tc.token, tc.body)
			if tc.field != "" {
				h.wantFormErr(r, tc.field, "")
				return
			}
			h.wantErr(r, tc.status, tc.code)
		})
	}
	h.t = t

	// GET /applications/{id}: the owner and the bot itself, nobody else.
	got := h.must(200, h.do("GET", "/applications/"+id, owner.Token, nil)).Obj()
	if got["id"] != id || got["name"] != "Helper Bot" {
		t.Fatalf("get application = %v", got)
	}
	if _, leaked := got["token"]; leaked {
		t.Fatalf("GET application leaks the token: %v", got)
	}
	h.must(200, h.do("GET", "/applications/"+id, botTok, nil))
	stranger := h.user("stranger")
	h.wantErr(h.do("GET", "/applications/"+id, stranger.Token, nil), 404, 10002)
	h.wantErr(h.do("GET", "/applications/"+owner.ID, owner.Token, nil), 404, 10002)
	h.wantFormErr(h.do("GET", "/applications/nope", owner.Token, nil), "application_id", "NUMBER_TYPE_COERCE")
}

func TestResetBotToken(t *testing.T) {
	h := newHarness(t)
	owner := h.user("resetowner")
	bot := h.bot(owner, "Reset Bot")
	stranger := h.user("resetstranger")
	// Warm the verifier cache with the first token.
	h.must(200, h.do("GET", "/users/@me", bot.Token, nil))

	h.wantErr(h.do("POST", "/applications/"+bot.ID+"/bot/reset", stranger.Token, nil), 404, 10002)
	h.wantErr(h.do("POST", "/applications/"+bot.ID+"/bot/reset", bot.Token, nil), 404, 10002)
	h.wantErr(h.do("POST", "/applications/"+bot.ID+"/bot/reset", "", nil), 401, 0)
	h.wantErr(h.do("POST", "/applications/"+owner.ID+"/bot/reset", owner.Token, nil), 404, 10002)
	h.wantFormErr(h.do("POST", "/applications/x1/bot/reset", owner.Token, nil), "application_id", "NUMBER_TYPE_COERCE")
	// Failed resets left the token alone.
	h.must(200, h.do("GET", "/users/@me", bot.Token, nil))

	r := h.must(200, h.do("POST", "/applications/"+bot.ID+"/bot/reset", owner.Token, nil))
	tok1 := "Bot " + r.Str("token")
	if r.Str("token") == "" || tok1 == bot.Token {
		t.Fatalf("reset = %s", r.Body)
	}
	h.wantErr(h.do("GET", "/users/@me", bot.Token, nil), 401, 0)
	if got := h.must(200, h.do("GET", "/users/@me", tok1, nil)).Str("id"); got != bot.ID {
		t.Fatalf("new token is user %s", got)
	}

	// A second reset revokes the token the first one issued.
	tok2 := "Bot " + h.must(200, h.do("POST", "/applications/"+bot.ID+"/bot/reset", owner.Token, nil)).Str("token")
	h.wantErr(h.do("GET", "/oauth2/applications/@me", tok1, nil), 401, 0)
	if got := h.must(200, h.do("GET", "/oauth2/applications/@me", tok2, nil)).Str("id"); got != bot.ID {
		t.Fatalf("application @me = %s", got)
	}
}

func TestCurrentApplication(t *testing.T) {
	h := newHarness(t)
	owner := h.user("curowner")
	bot := h.bot(owner, "Current Bot")
	for _, path := range []string{"/oauth2/applications/@me", "/applications/@me"} {
		r := h.must(200, h.do("GET", path, bot.Token, nil))
		app := r.Obj()
		if app["id"] != bot.ID || app["name"] != "Current Bot" || asObj(app["owner"])["id"] != owner.ID ||
			asObj(app["bot"])["id"] != bot.ID || app["bot_public"] != true {
			t.Fatalf("%s = %s", path, r.Body)
		}
		if _, ok := app["flags"].(float64); !ok {
			t.Fatalf("%s flags = %v", path, app["flags"])
		}
		if _, leaked := app["token"]; leaked {
			t.Fatalf("%s leaks the token", path)
		}
		h.wantErr(h.do("GET", path, owner.Token, nil), 404, 10002)
		h.wantErr(h.do("GET", path, "", nil), 401, 0)
	}
	// The v9 prefix serves the same route.
	if h.must(200, h.reqV("/api/v9", "GET", "/oauth2/applications/@me", bot.Token, nil, nil)).Str("id") != bot.ID {
		t.Fatal("v9 application @me")
	}
}

func TestAuthorizeBot(t *testing.T) {
	h := newHarness(t)
	owner := h.user("authowner")
	dev := h.user("authdev")
	member := h.user("authmember")
	manager := h.user("authmanager")
	outsider := h.user("authoutsider")
	gid, text, _ := h.guild(owner)
	h.join(owner, member, text)
	h.join(owner, manager, text)
	h.giveRole(owner, gid, manager.ID, h.mkRole(owner, gid, "guild managers", perm.ManageGuild))
	bot := h.bot(dev, "Auth Bot")
	plainBot := h.bot(dev, "Plain Bot")

	authorize := func(actor user, query string, body any) resp {
		return h.do("POST", "/oauth2/authorize?"+query, actor.Token, body)
	}
	q := func(clientID, scope, perms string) string {
		s := "client_id=" + clientID + "&scope=" + scope
		if perms != "" {
			s += "&permissions=" + perms
		}
		return s
	}
	wanted := uint64(perm.ViewChannel | perm.SendMessages | perm.KickMembers)
	yes := map[string]any{"guild_id": gid, "authorize": true}

	cases := []struct {
		name   string
		actor  user
		query  string
		body   any
		status int
		code   int
		field  string
	}{
		{name: "member without MANAGE_GUILD", actor: member, query: q(bot.ID, "bot", permStr(wanted)), body: yes, status: 403, code: 50013},
		{name: "non-member", actor: outsider, query: q(bot.ID, "bot", permStr(wanted)), body: yes, status: 404, code: 10004},
		{name: "manager granting bits it lacks", actor: manager, query: q(bot.ID, "bot", permStr(perm.BanMembers)), body: yes, status: 403, code: 50013},
		{name: "bots cannot authorize", actor: bot, query: q(plainBot.ID, "bot", ""), body: yes, status: 403, code: 20001},
		{name: "client is a user", actor: owner, query: q(member.ID, "bot", ""), body: yes, status: 404, code: 10002},
		{name: "unknown client", actor: owner, query: q("12345", "bot", ""), body: yes, status: 404, code: 10002},
		{name: "bad client_id", actor: owner, query: q("abc", "bot", ""), body: yes, field: "client_id"},
		{name: "missing scope", actor: owner, query: "client_id=" + bot.ID, body: yes, field: "scope"},
		{name: "wrong scope", actor: owner, query: q(bot.ID, "identify", ""), body: yes, field: "scope"},
		{name: "bad permissions", actor: owner, query: q(bot.ID, "bot", "12ab"), body: yes, field: "permissions"},
		{name: "missing guild", actor: owner, query: q(bot.ID, "bot", ""), body: map[string]any{"authorize": true}, field: "guild_id"},
		{name: "not authorized", actor: owner, query: q(bot.ID, "bot", ""), body: map[string]any{"guild_id": gid}, field: "authorize"},
		{name: "guild_id wrong type", actor: owner, query: q(bot.ID, "bot", ""), body: map[string]any{"guild_id": true, "authorize": true}, field: "guild_id"},
		{name: "unknown guild", actor: owner, query: q(bot.ID, "bot", ""), body: map[string]any{"guild_id": "999", "authorize": true}, status: 404, code: 10004},
		{name: "no body", actor: owner, query: q(bot.ID, "bot", ""), body: nil, status: 400, code: 50109},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			r := authorize(tc.actor, tc.query, tc.body)
			if tc.field != "" {
				h.wantFormErr(r, tc.field, "")
			} else {
				h.wantErr(r, tc.status, tc.code)
			}
			// Nothing was added.
			h.wantErr(h.do("GET", "/guilds/"+gid+"/members/"+bot.ID, owner.Token, nil), 404, 10007)
		})
	}
	h.t = t
	h.wantErr(h.do("POST", "/oauth2/authorize?"+q(bot.ID, "bot", ""), "", yes), 401, 0)

	rolesBefore := len(h.must(200, h.do("GET", "/guilds/"+gid+"/roles", owner.Token, nil)).Arr())
	r := h.must(200, authorize(owner, q(bot.ID, "bot", permStr(wanted)), yes))
	loc := r.Str("location")
	if !strings.HasPrefix(loc, h.srv.URL) {
		t.Fatalf("location = %q", loc)
	}
	// The location is a page the browser can show, not a 404.
	page, err := h.srv.Client().Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "Authorized") {
		t.Fatalf("GET %s: %d %s %q", loc, page.StatusCode, page.Header.Get("Content-Type"), body)
	}
	mem := h.must(200, h.do("GET", "/guilds/"+gid+"/members/"+bot.ID, owner.Token, nil)).Obj()
	roles, _ := mem["roles"].([]any)
	if len(roles) != 1 || asObj(mem["user"])["bot"] != true {
		t.Fatalf("bot member = %v", mem)
	}
	managed := h.must(200, h.do("GET", "/guilds/"+gid+"/roles/"+roles[0].(string), owner.Token, nil)).Obj()
	if managed["managed"] != true || managed["name"] != "Auth Bot" || h.wantPermString("permissions", managed["permissions"]) != wanted ||
		asObj(managed["tags"])["bot_id"] != bot.ID {
		t.Fatalf("managed role = %v", managed)
	}
	if n := len(h.must(200, h.do("GET", "/guilds/"+gid+"/roles", owner.Token, nil)).Arr()); n != rolesBefore+1 {
		t.Fatalf("%d roles, want %d", n, rolesBefore+1)
	}
	guilds := h.must(200, h.do("GET", "/users/@me/guilds", bot.Token, nil)).Arr()
	if len(guilds) != 1 || asObj(guilds[0])["id"] != gid || h.wantPermString("permissions", asObj(guilds[0])["permissions"]) != perm.DefaultEveryone|wanted {
		t.Fatalf("bot guilds = %v", guilds)
	}
	// Authorizing again is accepted and adds no second role; with other
	// permissions it changes the managed role's, as on Discord.
	h.must(200, authorize(owner, q(bot.ID, "bot", permStr(wanted)), yes))
	if n := len(h.must(200, h.do("GET", "/guilds/"+gid+"/roles", owner.Token, nil)).Arr()); n != rolesBefore+1 {
		t.Fatalf("re-authorize made a role: %d roles", n)
	}
	more := wanted | perm.ManageChannels | perm.ManageMessages
	h.must(200, authorize(owner, q(bot.ID, "bot", permStr(more)), yes))
	managed = h.must(200, h.do("GET", "/guilds/"+gid+"/roles/"+roles[0].(string), owner.Token, nil)).Obj()
	if got := h.wantPermString("permissions", managed["permissions"]); got != more {
		t.Fatalf("after re-authorizing with more, the managed role has %d, want %d", got, more)
	}
	if n := len(h.must(200, h.do("GET", "/guilds/"+gid+"/roles", owner.Token, nil)).Arr()); n != rolesBefore+1 {
		t.Fatalf("re-authorize with other permissions made a role: %d roles", n)
	}
	// A manager cannot raise the bot past its own permissions that way.
	h.wantErr(authorize(manager, q(bot.ID, "bot", permStr(more|perm.BanMembers)), yes), 403, 50013)
	h.must(200, authorize(owner, q(bot.ID, "bot", permStr(wanted)), yes))

	// Permissions in the body win; none means no managed role. A manager
	// with MANAGE_GUILD may add a bot asking for nothing.
	h.must(200, authorize(manager, q(plainBot.ID, "bot", ""), map[string]any{"guild_id": gid, "authorize": true, "permissions": "0"}))
	pm := h.must(200, h.do("GET", "/guilds/"+gid+"/members/"+plainBot.ID, owner.Token, nil)).Obj()
	if r, _ := pm["roles"].([]any); len(r) != 0 {
		t.Fatalf("plain bot roles = %v", pm["roles"])
	}
	// Authorized again asking for permissions, it gets a managed role.
	h.must(200, authorize(owner, q(plainBot.ID, "bot", permStr(perm.SendMessages)), yes))
	pm = h.must(200, h.do("GET", "/guilds/"+gid+"/members/"+plainBot.ID, owner.Token, nil)).Obj()
	if r, _ := pm["roles"].([]any); len(r) != 1 {
		t.Fatalf("plain bot re-authorized with SEND_MESSAGES has roles %v, want its managed role", pm["roles"])
	}
	pr := h.must(200, h.do("GET", "/guilds/"+gid+"/roles/"+pm["roles"].([]any)[0].(string), owner.Token, nil)).Obj()
	if pr["managed"] != true || asObj(pr["tags"])["bot_id"] != plainBot.ID || h.wantPermString("permissions", pr["permissions"]) != perm.SendMessages {
		t.Fatalf("plain bot's new managed role = %v", pr)
	}
	h.must(204, h.do("DELETE", "/guilds/"+gid+"/members/"+plainBot.ID, owner.Token, nil))

	// Removing the bot removes its managed role; adding it back makes one
	// new role, not a second.
	h.must(204, h.do("DELETE", "/guilds/"+gid+"/members/"+bot.ID, owner.Token, nil))
	h.wantErr(h.do("GET", "/guilds/"+gid+"/roles/"+roles[0].(string), owner.Token, nil), 404, 10011)
	if n := len(h.must(200, h.do("GET", "/guilds/"+gid+"/roles", owner.Token, nil)).Arr()); n != rolesBefore {
		t.Fatalf("%d roles after the bot left, want %d", n, rolesBefore)
	}
	h.must(200, authorize(owner, q(bot.ID, "bot", permStr(wanted)), yes))
	if n := len(h.must(200, h.do("GET", "/guilds/"+gid+"/roles", owner.Token, nil)).Arr()); n != rolesBefore+1 {
		t.Fatalf("%d roles after re-adding the bot, want %d", n, rolesBefore+1)
	}
	// So does a ban.
	h.must(204, h.do("PUT", "/guilds/"+gid+"/bans/"+bot.ID, owner.Token, nil))
	if n := len(h.must(200, h.do("GET", "/guilds/"+gid+"/roles", owner.Token, nil)).Arr()); n != rolesBefore {
		t.Fatalf("%d roles after banning the bot, want %d", n, rolesBefore)
	}
	h.wantErr(authorize(owner, q(bot.ID, "bot", permStr(wanted)), yes), 403, 40007)
	if n := len(h.must(200, h.do("GET", "/guilds/"+gid+"/roles", owner.Token, nil)).Arr()); n != rolesBefore {
		t.Fatalf("refused authorize made a role: %d roles", n)
	}
}

// ---- users ----

func TestGetUser(t *testing.T) {
	h := newHarness(t)
	u := h.user("getuser")
	other := h.user("getother")
	for _, path := range []string{"/users/@me", "/users/" + u.ID} {
		r := h.must(200, h.do("GET", path, u.Token, nil))
		m := r.Obj()
		h.wantSnowflake("id", m["id"])
		if m["id"] != u.ID || m["username"] != u.Name || m["discriminator"] != "0" {
			t.Fatalf("%s = %s", path, r.Body)
		}
		for _, k := range []string{"global_name", "avatar"} {
			if v, ok := m[k]; !ok || v != nil {
				t.Fatalf("%s %s = %v (present %v), want null", path, k, v, ok)
			}
		}
		if _, ok := m["bot"]; ok {
			t.Fatalf("%s: a user has a bot field: %s", path, r.Body)
		}
	}
	if got := h.must(200, h.do("GET", "/users/"+other.ID, u.Token, nil)).Str("username"); got != other.Name {
		t.Fatalf("other user = %q", got)
	}
	if got := h.must(200, h.reqV("/api/v9", "GET", "/users/"+other.ID, u.Token, nil, nil)).Str("id"); got != other.ID {
		t.Fatalf("v9 other user = %q", got)
	}
	h.wantErr(h.do("GET", "/users/123456789", u.Token, nil), 404, 10013)
	h.wantFormErr(h.do("GET", "/users/someone", u.Token, nil), "user_id", "NUMBER_TYPE_COERCE")
	h.wantErr(h.do("GET", "/users/@me", "", nil), 401, 0)
	h.wantErr(h.do("GET", "/users/"+other.ID, "garbage", nil), 401, 0)
}

func TestModifyMe(t *testing.T) {
	h := newHarness(t)
	u := h.user("modme")
	taken := h.user("taken")
	cases := []struct {
		name   string
		body   any
		status int
		code   int
		field  string
		check  func(m map[string]any) bool
	}{
		{name: "set global name", body: map[string]any{"global_name": "Mod Me"}, status: 200,
			check: func(m map[string]any) bool { return m["global_name"] == "Mod Me" && m["username"] == u.Name }},
		{name: "clear global name", body: map[string]any{"global_name": nil}, status: 200,
			check: func(m map[string]any) bool { v, ok := m["global_name"]; return ok && v == nil }},
		{name: "rename", body: map[string]any{"username": "mod.me_renamed"}, status: 200,
			check: func(m map[string]any) bool { return m["username"] == "mod.me_renamed" && m["id"] == u.ID }},
		{name: "rename to own name", body: map[string]any{"username": "mod.me_renamed"}, status: 200,
			check: func(m map[string]any) bool { return m["username"] == "mod.me_renamed" }},
		{name: "bad username", body: map[string]any{"username": "Bad Name"}, field: "username"},
		{name: "short username", body: map[string]any{"username": "x"}, field: "username"},
		{name: "taken username", body: map[string]any{"username": taken.Name}, field: "username"},
		{name: "taken username other case", body: map[string]any{"username": strings.ToUpper(taken.Name)}, field: "username"},
		{name: "long global name", body: map[string]any{"global_name": strings.Repeat("g", 33)}, field: "global_name"},
		{name: "empty global name", body: map[string]any{"global_name": ""}, field: "global_name"},
		{name: "username wrong type", body: map[string]any{"username": 12}, field: "username"},
		{name: "malformed", body: `{"username":}`, status: 400, code: 50109},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			before := h.must(200, h.do("GET", "/users/@me", u.Token, nil)).Body
			r := h.do("PATCH", "/users/@me", u.Token, tc.body)
			switch {
			case tc.field != "":
				h.wantFormErr(r, tc.field, "")
			case tc.status != 200:
				h.wantErr(r, tc.status, tc.code)
			default:
				h.must(200, r)
				if !tc.check(r.Obj()) {
					t.Fatalf("PATCH = %s", r.Body)
				}
				after := h.must(200, h.do("GET", "/users/"+u.ID, taken.Token, nil))
				if !tc.check(after.Obj()) {
					t.Fatalf("GET after PATCH = %s", after.Body)
				}
				return
			}
			if after := h.must(200, h.do("GET", "/users/@me", u.Token, nil)).Body; !bytes.Equal(before, after) {
				t.Fatalf("failed PATCH changed the user: %s -> %s", before, after)
			}
		})
	}
	h.t = t
	h.wantErr(h.do("PATCH", "/users/@me", "", map[string]any{"global_name": "x"}), 401, 0)
	// Bots keep Discord's legacy names: spaces and capitals are fine.
	bot := h.bot(u, "Some Bot")
	if got := h.must(200, h.do("PATCH", "/users/@me", bot.Token, map[string]any{"username": "Renamed Bot"})).Str("username"); got != "Renamed Bot" {
		t.Fatalf("bot rename = %q", got)
	}
	h.wantFormErr(h.do("PATCH", "/users/@me", bot.Token, map[string]any{"username": "B"}), "username", "BASE_TYPE_BAD_LENGTH")
}

func TestMyGuilds(t *testing.T) {
	h := newHarness(t)
	u := h.user("myguilds")
	other := h.user("myguildsother")
	var gids []string
	for i := 0; i < 3; i++ {
		gid, _, _ := h.guild(u)
		gids = append(gids, gid)
	}
	for i := 0; i < 2; i++ {
		gid, text, _ := h.guild(other)
		h.join(other, u, text)
		gids = append(gids, gid)
	}
	slices.SortFunc(gids, func(a, b string) int {
		x, _ := strconv.ParseUint(a, 10, 64)
		y, _ := strconv.ParseUint(b, 10, 64)
		return cmp.Compare(x, y)
	})
	all := h.must(200, h.do("GET", "/users/@me/guilds", u.Token, nil)).Arr()
	if got := idsOf(all); !slices.Equal(got, gids) {
		t.Fatalf("guilds %v, want %v", got, gids)
	}
	owned := map[string]bool{}
	for _, g := range all {
		m := asObj(g)
		h.wantSnowflake("id", m["id"])
		p := h.wantPermString("permissions", m["permissions"])
		if _, ok := m["features"].([]any); !ok || m["name"] != "Test Guild" {
			t.Fatalf("partial guild = %v", m)
		}
		if _, ok := m["approximate_member_count"]; ok {
			t.Fatalf("counts without with_counts: %v", m)
		}
		if m["owner"] == true {
			owned[m["id"].(string)] = true
			if p != perm.All {
				t.Fatalf("owner permissions %d", p)
			}
		} else if p != perm.DefaultEveryone {
			t.Fatalf("member permissions %d", p)
		}
	}
	if len(owned) != 3 {
		t.Fatalf("owned %v", owned)
	}

	cases := []struct {
		query string
		want  []string
	}{
		{"limit=2", gids[:2]},
		{"limit=200", gids},
		{"after=" + gids[1], gids[2:]},
		{"after=" + gids[1] + "&limit=2", gids[2:4]},
		{"before=" + gids[3], gids[:3]},
		{"after=" + gids[0] + "&before=" + gids[4], gids[1:4]},
		{"after=" + gids[4], nil},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			h.t = t
			got := idsOf(h.must(200, h.do("GET", "/users/@me/guilds?"+tc.query, u.Token, nil)).Arr())
			if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	h.t = t
	for q, field := range map[string]string{"limit=0": "limit", "limit=201": "limit", "limit=x": "limit", "before=x": "before", "after=-1": "after"} {
		h.wantFormErr(h.do("GET", "/users/@me/guilds?"+q, u.Token, nil), field, "")
	}
	h.wantErr(h.do("GET", "/users/@me/guilds", "", nil), 401, 0)

	counted := h.must(200, h.do("GET", "/users/@me/guilds?with_counts=true", u.Token, nil)).Arr()
	for _, g := range counted {
		m := asObj(g)
		want := 1.0
		if m["owner"] != true {
			want = 2
		}
		if m["approximate_member_count"] != want {
			t.Fatalf("count %v, want %v: %v", m["approximate_member_count"], want, m)
		}
	}

	// The caller's own member object in one guild.
	mem := h.must(200, h.do("GET", "/users/@me/guilds/"+gids[4]+"/member", u.Token, nil)).Obj()
	if asObj(mem["user"])["id"] != u.ID {
		t.Fatalf("my member = %v", mem)
	}
	h.wantISOTime("joined_at", mem["joined_at"])
	stranger := h.user("myguildsstranger")
	h.wantErr(h.do("GET", "/users/@me/guilds/"+gids[4]+"/member", stranger.Token, nil), 404, 10004)
	h.wantFormErr(h.do("GET", "/users/@me/guilds/abc/member", u.Token, nil), "guild_id", "")
}

func TestDirectMessages(t *testing.T) {
	h := newHarness(t)
	a := h.user("dma")
	b := h.user("dmb")
	c := h.user("dmc")
	r := h.must(200, h.do("POST", "/users/@me/channels", a.Token, map[string]any{"recipient_id": b.ID}))
	dm := r.Obj()
	id := h.wantSnowflake("id", dm["id"])
	if dm["type"] != 1.0 {
		t.Fatalf("type %v", dm["type"])
	}
	if v, ok := dm["last_message_id"]; !ok || v != nil {
		t.Fatalf("last_message_id = %v", v)
	}
	if rc, _ := dm["recipients"].([]any); len(rc) != 1 || asObj(rc[0])["id"] != b.ID || asObj(rc[0])["username"] != b.Name {
		t.Fatalf("recipients = %v", dm["recipients"])
	}
	if _, ok := dm["guild_id"]; ok {
		t.Fatalf("DM has guild_id: %s", r.Body)
	}
	// Opening again, from either side, returns the same channel.
	if got := h.must(200, h.do("POST", "/users/@me/channels", a.Token, map[string]any{"recipient_id": b.ID})).Str("id"); got != id {
		t.Fatalf("reopen gave %s, want %s", got, id)
	}
	fromB := h.must(200, h.do("POST", "/users/@me/channels", b.Token, map[string]any{"recipient_id": a.ID})).Obj()
	if fromB["id"] != id || asObj(fromB["recipients"].([]any)[0])["id"] != a.ID {
		t.Fatalf("from b = %v", fromB)
	}
	h.must(200, h.do("POST", "/users/@me/channels", a.Token, map[string]any{"recipient_id": c.ID}))

	listA := h.must(200, h.do("GET", "/users/@me/channels", a.Token, nil)).Arr()
	listB := h.must(200, h.do("GET", "/users/@me/channels", b.Token, nil)).Arr()
	listC := h.must(200, h.do("GET", "/users/@me/channels", c.Token, nil)).Arr()
	if len(listA) != 2 || len(listB) != 1 || len(listC) != 1 || idsOf(listB)[0] != id || !slices.Contains(idsOf(listA), id) {
		t.Fatalf("lists a=%v b=%v c=%v", idsOf(listA), idsOf(listB), idsOf(listC))
	}
	if rc := asObj(listB[0])["recipients"].([]any); len(rc) != 1 || asObj(rc[0])["id"] != a.ID {
		t.Fatalf("b's recipients = %v", rc)
	}
	if got := h.must(200, h.do("GET", "/channels/"+id, a.Token, nil)).Str("id"); got != id {
		t.Fatalf("GET dm = %s", got)
	}
	h.wantErr(h.do("GET", "/channels/"+id, c.Token, nil), 403, 50001)
	empty := h.user("dmempty")
	if got := h.must(200, h.do("GET", "/users/@me/channels", empty.Token, nil)); string(bytes.TrimSpace(got.Body)) != "[]" {
		t.Fatalf("empty list = %s", got.Body)
	}

	cases := []struct {
		name   string
		body   any
		status int
		code   int
		field  string
	}{
		{name: "missing recipient", body: map[string]any{}, field: "recipient_id"},
		{name: "self", body: map[string]any{"recipient_id": a.ID}, status: 403, code: 50007},
		{name: "unknown user", body: map[string]any{"recipient_id": "4242"}, field: "recipient_id"},
		{name: "bad snowflake", body: map[string]any{"recipient_id": "abc"}, status: 400, code: 50035},
		{name: "malformed", body: `{"recipient_id"`, status: 400, code: 50109},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			r := h.do("POST", "/users/@me/channels", a.Token, tc.body)
			if tc.field != "" {
				h.wantFormErr(r, tc.field, "")
				return
			}
			h.wantErr(r, tc.status, tc.code)
		})
	}
	h.t = t
	h.wantErr(h.do("POST", "/users/@me/channels", "", map[string]any{"recipient_id": b.ID}), 401, 0)
	h.wantErr(h.do("GET", "/users/@me/channels", "", nil), 401, 0)
	if n := len(h.must(200, h.do("GET", "/users/@me/channels", a.Token, nil)).Arr()); n != 2 {
		t.Fatalf("failed opens changed the list: %d", n)
	}
}

func TestGateway(t *testing.T) {
	h := newHarness(t)
	owner := h.user("gwowner")
	bot := h.bot(owner, "Gateway Bot")
	wantURL := "ws" + h.srv.URL[4:] + "/gateway"
	for _, prefix := range []string{"/api/v10", "/api/v9", "/api"} {
		r := h.must(200, h.reqV(prefix, "GET", "/gateway", "", nil, nil))
		if r.Str("url") != wantURL || len(r.Obj()) != 1 {
			t.Fatalf("%s/gateway = %s", prefix, r.Body)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}
	}
	r := h.must(200, h.do("GET", "/gateway/bot", bot.Token, nil))
	m := r.Obj()
	if m["url"] != wantURL || m["shards"] != 1.0 {
		t.Fatalf("/gateway/bot = %s", r.Body)
	}
	ssl := asObj(m["session_start_limit"])
	for _, k := range []string{"total", "remaining", "reset_after", "max_concurrency"} {
		v, ok := ssl[k].(float64)
		if !ok || v < 0 || v != float64(int64(v)) {
			t.Fatalf("session_start_limit.%s = %v", k, ssl[k])
		}
	}
	if ssl["remaining"].(float64) > ssl["total"].(float64) || ssl["max_concurrency"].(float64) < 1 {
		t.Fatalf("session_start_limit = %v", ssl)
	}
	h.wantErr(h.do("GET", "/gateway/bot", "", nil), 401, 0)
	h.wantErr(h.do("GET", "/gateway/bot", "Bot not-a-token", nil), 401, 0)
	// The catch-all answers unknown API paths in Discord's shape.
	h.wantErr(h.do("GET", "/no/such/route", owner.Token, nil), 404, 0)
}

func TestModifyApplication(t *testing.T) {
	h := newHarness(t)
	owner := h.user("patchappowner")
	stranger := h.user("patchappstranger")
	bot := h.bot(owner, "Patch Bot")
	const defaultFlags = 1<<13 | 1<<15 | 1<<19
	if f := h.must(200, h.do("GET", "/applications/"+bot.ID, owner.Token, nil)).Obj()["flags"]; f != float64(defaultFlags) {
		t.Fatalf("initial flags %v", f)
	}
	cases := []struct {
		name   string
		token  string
		path   string
		body   any
		status int
		code   int
		field  string
		check  func(m map[string]any) bool
	}{
		{name: "owner sets description", token: owner.Token, path: "/applications/" + bot.ID, body: map[string]any{"description": "new words"}, status: 200,
			check: func(m map[string]any) bool {
				return m["description"] == "new words" && m["flags"] == float64(defaultFlags)
			}},
		{name: "bot sets intent flags", token: bot.Token, path: "/applications/@me", body: map[string]any{"flags": 1<<12 | 1<<14 | 1<<18}, status: 200,
			check: func(m map[string]any) bool {
				return m["flags"] == float64(1<<12|1<<14|1<<18) && m["description"] == "new words"
			}},
		{name: "non-intent flag", token: owner.Token, path: "/applications/" + bot.ID, body: map[string]any{"flags": 1}, field: "flags"},
		{name: "long description", token: bot.Token, path: "/applications/@me", body: map[string]any{"description": strings.Repeat("d", 401)}, field: "description"},
		{name: "flags wrong type", token: owner.Token, path: "/applications/" + bot.ID, body: map[string]any{"flags": "many"}, field: "flags"},
		{name: "malformed", token: owner.Token, path: "/applications/" + bot.ID, body: `{"flags"`, status: 400, code: 50109},
		{name: "stranger", token: stranger.Token, path: "/applications/" + bot.ID, body: map[string]any{"description": "mine"}, status: 404, code: 10002},
		{name: "user on @me", token: owner.Token, path: "/applications/@me", body: map[string]any{"description": "mine"}, status: 404, code: 10002},
		{name: "no auth", token: "", path: "/applications/" + bot.ID, body: map[string]any{"description": "mine"}, status: 401, code: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			r := h.do("PATCH", tc.path, tc.token, tc.body)
			switch {
			case tc.field != "":
				h.wantFormErr(r, tc.field, "")
			case tc.status != 200:
				h.wantErr(r, tc.status, tc.code)
			default:
				h.must(200, r)
				if !tc.check(r.Obj()) {
					t.Fatalf("PATCH = %s", r.Body)
				}
				if got := h.must(200, h.do("GET", "/applications/"+bot.ID, owner.Token, nil)); !tc.check(got.Obj()) {
					t.Fatalf("GET after PATCH = %s", got.Body)
				}
			}
		})
	}
	h.t = t
	// Failed patches changed nothing.
	m := h.must(200, h.do("GET", "/oauth2/applications/@me", bot.Token, nil)).Obj()
	if m["description"] != "new words" || m["flags"] != float64(1<<12|1<<14|1<<18) {
		t.Fatalf("application = %v", m)
	}
}
