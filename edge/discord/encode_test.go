package discord

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/model"
)

// Shadows of the hand-encoded types without their MarshalJSON methods, so
// encoding/json shows what reflection would write.
type memberPlain Member

type mentionedPlain struct {
	*model.User
	Member *memberPlain `json:"member,omitempty"`
}

type messagePlain struct {
	ID                ID                      `json:"id"`
	Type              int                     `json:"type"`
	ChannelID         ID                      `json:"channel_id"`
	GuildID           ID                      `json:"guild_id,omitempty"`
	Author            *model.User             `json:"author"`
	Member            *memberPlain            `json:"member,omitempty"`
	Content           string                  `json:"content"`
	Timestamp         Timestamp               `json:"timestamp"`
	EditedTimestamp   *Timestamp              `json:"edited_timestamp"`
	TTS               bool                    `json:"tts"`
	MentionEveryone   bool                    `json:"mention_everyone"`
	Mentions          []mentionedPlain        `json:"mentions"`
	MentionRoles      []ID                    `json:"mention_roles"`
	Attachments       []model.Attachment      `json:"attachments"`
	Embeds            []json.RawMessage       `json:"embeds"`
	Reactions         []Reaction              `json:"reactions,omitempty"`
	Nonce             json.RawMessage         `json:"nonce,omitempty"`
	Pinned            bool                    `json:"pinned"`
	Flags             int                     `json:"flags"`
	Components        []json.RawMessage       `json:"components"`
	MessageReference  *model.MessageReference `json:"message_reference,omitempty"`
	ReferencedMessage any                     `json:"referenced_message,omitempty"`
}

func plain(m *Message) *messagePlain {
	p := &messagePlain{ID: m.ID, Type: m.Type, ChannelID: m.ChannelID, GuildID: m.GuildID, Author: m.Author,
		Member: (*memberPlain)(m.Member), Content: m.Content, Timestamp: m.Timestamp, EditedTimestamp: m.EditedTimestamp,
		TTS: m.TTS, MentionEveryone: m.MentionEveryone, MentionRoles: m.MentionRoles, Attachments: m.Attachments,
		Embeds: m.Embeds, Reactions: m.Reactions, Nonce: m.Nonce, Pinned: m.Pinned, Flags: m.Flags,
		Components: m.Components, MessageReference: m.MessageReference}
	if m.Mentions != nil {
		p.Mentions = []mentionedPlain{}
		for _, mu := range m.Mentions {
			p.Mentions = append(p.Mentions, mentionedPlain{User: mu.User, Member: (*memberPlain)(mu.Member)})
		}
	}
	switch rm := m.ReferencedMessage.(type) {
	case *Message:
		p.ReferencedMessage = plain(rm)
	default:
		p.ReferencedMessage = rm
	}
	return p
}

func randString(r *rand.Rand) string {
	pieces := []string{"hello", " ", "<@123>", "\"q\"", "\\", "\n\t", "é", "😀", "\u2028", "<&>", "\x01", string([]byte{0xff}), ""}
	var sb strings.Builder
	for i := r.IntN(6); i > 0; i-- {
		sb.WriteString(pieces[r.IntN(len(pieces))])
	}
	return sb.String()
}

func randUser(r *rand.Rand) *model.User {
	u := &model.User{ID: ID(r.Uint64() >> 1), Username: randString(r), Discriminator: "0", Bot: r.IntN(2) == 0, Flags: r.IntN(5)}
	if r.IntN(2) == 0 {
		s := randString(r)
		u.GlobalName = &s
	}
	if r.IntN(3) == 0 {
		c := r.IntN(0xffffff)
		u.AccentColor = &c
	}
	return u
}

func randMember(r *rand.Rand, withUser bool) *Member {
	m := &Member{Roles: []ID{ID(r.Uint64() >> 1)}, JoinedAt: Timestamp(time.Unix(r.Int64N(2e9), r.Int64N(1e9))), Deaf: r.IntN(2) == 0}
	if withUser {
		m.User = randUser(r)
	}
	if r.IntN(2) == 0 {
		n := randString(r)
		m.Nick = &n
	}
	return m
}

func randMessage(r *rand.Rand, depth int) *Message {
	m := &Message{ID: ID(r.Uint64() >> 1), ChannelID: ID(r.Uint64() >> 1), Author: randUser(r), Content: randString(r),
		Timestamp: Timestamp(time.Unix(r.Int64N(2e9), r.Int64N(1e9))), TTS: r.IntN(2) == 0,
		MentionRoles: []ID{}, Attachments: []model.Attachment{}, Embeds: []json.RawMessage{}, Components: []json.RawMessage{},
		Mentions: []MentionedUser{}}
	if r.IntN(2) == 0 {
		m.GuildID = ID(r.Uint64() >> 1)
		m.Member = randMember(r, false)
	}
	if r.IntN(2) == 0 {
		ts := Timestamp(time.Unix(r.Int64N(2e9), 0))
		m.EditedTimestamp = &ts
	}
	for i := r.IntN(3); i > 0; i-- {
		mu := MentionedUser{User: randUser(r)}
		if r.IntN(2) == 0 {
			mu.Member = randMember(r, false)
		}
		m.Mentions = append(m.Mentions, mu)
	}
	if r.IntN(3) == 0 {
		m.Embeds = append(m.Embeds, json.RawMessage(`{"title":"t","fields":[{"name":"a","value":"b"}]}`))
		m.Attachments = append(m.Attachments, model.Attachment{ID: 5, Filename: "a.png", Size: 3, URL: "u", ProxyURL: "u"})
		m.Reactions = []Reaction{{Count: 2, Me: true, Emoji: Emoji{Name: "👍"}, BurstColors: []string{}}}
		m.Nonce = json.RawMessage(`"n1"`)
	}
	if r.IntN(3) == 0 {
		m.MessageReference = &model.MessageReference{MessageID: 9, ChannelID: m.ChannelID}
		switch {
		case depth > 0 && r.IntN(2) == 0:
			m.ReferencedMessage = randMessage(r, depth-1)
		default:
			m.ReferencedMessage = NullMessage
		}
	}
	return m
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	return v
}

// The hand-written encoder must write what reflection would, for any
// message: same fields, values, nulls and omissions.
func TestAppendJSONMatchesReflection(t *testing.T) {
	if n, want := reflect.TypeOf(Message{}).NumField(), reflect.TypeOf(messagePlain{}).NumField(); n != want {
		t.Fatalf("Message has %d fields, the test shadow %d: update AppendJSON and the shadow", n, want)
	}
	if n, want := reflect.TypeOf(Member{}).NumField(), 14; n != want {
		t.Fatalf("Member has %d fields, AppendJSON writes %d: update it", n, want)
	}
	r := rand.New(rand.NewPCG(7, 11))
	for i := 0; i < 2000; i++ {
		m := randMessage(r, 2)
		got := m.AppendJSON(nil)
		want, err := json.Marshal(plain(m))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(decode(t, got), decode(t, want)) {
			t.Fatalf("message %d differs:\nhand %s\nrefl %s", i, got, want)
		}
	}
	mem := randMember(r, true)
	mem.Permissions, mem.GuildID = "8", 77
	got, _ := mem.MarshalJSON()
	want, _ := json.Marshal((*memberPlain)(mem))
	if !reflect.DeepEqual(decode(t, got), decode(t, want)) {
		t.Fatalf("member differs:\nhand %s\nrefl %s", got, want)
	}
}

// Strings escape byte for byte as encoding/json escapes them.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for i := 0; i < 5000; i++ {
		s := randString(r)
		if i%3 == 0 {
			b := make([]byte, r.IntN(12))
			for j := range b {
				b[j] = byte(r.IntN(256))
			}
			s += string(b)
		}
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s want %s", s, got, want)
		}
	}
}

func BenchmarkAppendMessages(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	page := make([]*Message, 50)
	for i := range page {
		page[i] = randMessage(r, 1)
	}
	b.ReportAllocs()
	var buf []byte
	for i := 0; i < b.N; i++ {
		buf = AppendMessages(buf[:0], page)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkReflectMessages(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	page := make([]*messagePlain, 50)
	for i := range page {
		page[i] = plain(randMessage(r, 1))
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_, _ = json.Marshal(page)
	}
}
