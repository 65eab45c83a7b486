package perm

import (
	"errors"
	"math/bits"
	"strconv"
	"strings"
	"testing"
)

// docTable is Discord's bitwise permission table transcribed independently
// of bits.go (hex values copied from the docs), so a typo in either place
// shows up as a mismatch.
var docTable = []struct {
	name string
	bit  uint64
	hex  string
}{
	{"CREATE_INSTANT_INVITE", CreateInstantInvite, "0x0000000000000001"},
	{"KICK_MEMBERS", KickMembers, "0x0000000000000002"},
	{"BAN_MEMBERS", BanMembers, "0x0000000000000004"},
	{"ADMINISTRATOR", Administrator, "0x0000000000000008"},
	{"MANAGE_CHANNELS", ManageChannels, "0x0000000000000010"},
	{"MANAGE_GUILD", ManageGuild, "0x0000000000000020"},
	{"ADD_REACTIONS", AddReactions, "0x0000000000000040"},
	{"VIEW_AUDIT_LOG", ViewAuditLog, "0x0000000000000080"},
	{"PRIORITY_SPEAKER", PrioritySpeaker, "0x0000000000000100"},
	{"STREAM", Stream, "0x0000000000000200"},
	{"VIEW_CHANNEL", ViewChannel, "0x0000000000000400"},
	{"SEND_MESSAGES", SendMessages, "0x0000000000000800"},
	{"SEND_TTS_MESSAGES", SendTTSMessages, "0x0000000000001000"},
	{"MANAGE_MESSAGES", ManageMessages, "0x0000000000002000"},
	{"EMBED_LINKS", EmbedLinks, "0x0000000000004000"},
	{"ATTACH_FILES", AttachFiles, "0x0000000000008000"},
	{"READ_MESSAGE_HISTORY", ReadMessageHistory, "0x0000000000010000"},
	{"MENTION_EVERYONE", MentionEveryone, "0x0000000000020000"},
	{"USE_EXTERNAL_EMOJIS", UseExternalEmojis, "0x0000000000040000"},
	{"VIEW_GUILD_INSIGHTS", ViewGuildInsights, "0x0000000000080000"},
	{"CONNECT", Connect, "0x0000000000100000"},
	{"SPEAK", Speak, "0x0000000000200000"},
	{"MUTE_MEMBERS", MuteMembers, "0x0000000000400000"},
	{"DEAFEN_MEMBERS", DeafenMembers, "0x0000000000800000"},
	{"MOVE_MEMBERS", MoveMembers, "0x0000000001000000"},
	{"USE_VAD", UseVAD, "0x0000000002000000"},
	{"CHANGE_NICKNAME", ChangeNickname, "0x0000000004000000"},
	{"MANAGE_NICKNAMES", ManageNicknames, "0x0000000008000000"},
	{"MANAGE_ROLES", ManageRoles, "0x0000000010000000"},
	{"MANAGE_WEBHOOKS", ManageWebhooks, "0x0000000020000000"},
	{"MANAGE_GUILD_EXPRESSIONS", ManageGuildExpressions, "0x0000000040000000"},
	{"USE_APPLICATION_COMMANDS", UseApplicationCommands, "0x0000000080000000"},
	{"REQUEST_TO_SPEAK", RequestToSpeak, "0x0000000100000000"},
	{"MANAGE_EVENTS", ManageEvents, "0x0000000200000000"},
	{"MANAGE_THREADS", ManageThreads, "0x0000000400000000"},
	{"CREATE_PUBLIC_THREADS", CreatePublicThreads, "0x0000000800000000"},
	{"CREATE_PRIVATE_THREADS", CreatePrivateThreads, "0x0000001000000000"},
	{"USE_EXTERNAL_STICKERS", UseExternalStickers, "0x0000002000000000"},
	{"SEND_MESSAGES_IN_THREADS", SendMessagesInThreads, "0x0000004000000000"},
	{"USE_EMBEDDED_ACTIVITIES", UseEmbeddedActivities, "0x0000008000000000"},
	{"MODERATE_MEMBERS", ModerateMembers, "0x0000010000000000"},
	{"VIEW_CREATOR_MONETIZATION_ANALYTICS", ViewCreatorMonetizationAnalytics, "0x0000020000000000"},
	{"USE_SOUNDBOARD", UseSoundboard, "0x0000040000000000"},
	{"CREATE_GUILD_EXPRESSIONS", CreateGuildExpressions, "0x0000080000000000"},
	{"CREATE_EVENTS", CreateEvents, "0x0000100000000000"},
	{"USE_EXTERNAL_SOUNDS", UseExternalSounds, "0x0000200000000000"},
	{"SEND_VOICE_MESSAGES", SendVoiceMessages, "0x0000400000000000"},
	{"SET_VOICE_CHANNEL_STATUS", SetVoiceChannelStatus, "0x0001000000000000"},
	{"SEND_POLLS", SendPolls, "0x0002000000000000"},
	{"USE_EXTERNAL_APPS", UseExternalApps, "0x0004000000000000"},
	{"PIN_MESSAGES", PinMessages, "0x0008000000000000"},
	{"BYPASS_SLOWMODE", BypassSlowmode, "0x0010000000000000"},
}

func TestBitsMatchDocs(t *testing.T) {
	var union uint64
	for _, d := range docTable {
		v, err := strconv.ParseUint(strings.TrimPrefix(d.hex, "0x"), 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		if d.bit != v {
			t.Errorf("%s = %#x, docs say %s", d.name, d.bit, d.hex)
		}
		if got := Name(d.bit); got != d.name {
			t.Errorf("Name(%s) = %q", d.hex, got)
		}
		if union&v != 0 {
			t.Errorf("%s reuses a bit", d.name)
		}
		union |= v
	}
	if union != All {
		t.Errorf("All = %#x, table union = %#x", uint64(All), union)
	}
	// Bits 0..52 except the retired 47.
	if want := uint64(1<<53-1) &^ (1 << 47); All != want {
		t.Errorf("All = %#x, want %#x", uint64(All), want)
	}
	if bits.OnesCount64(All) != len(docTable) || len(docTable) != 52 {
		t.Errorf("All has %d bits, table %d rows", bits.OnesCount64(All), len(docTable))
	}
	for i, n := range names {
		if n != "" && All&(1<<i) == 0 {
			t.Errorf("names[%d] = %q but bit not in All", i, n)
		}
	}
}

func TestPinMessagesSplitFromManageMessages(t *testing.T) {
	if PinMessages == ManageMessages || PinMessages&ManageMessages != 0 {
		t.Fatal("PIN_MESSAGES must be its own bit")
	}
	if Has(ManageMessages, PinMessages) {
		t.Error("MANAGE_MESSAGES alone must not allow pinning")
	}
	if Has(PinMessages, ManageMessages) {
		t.Error("PIN_MESSAGES alone must not allow deleting others' messages")
	}
	if BypassSlowmode&(ManageMessages|ManageChannels|ManageThreads) != 0 {
		t.Error("BYPASS_SLOWMODE must be its own bit")
	}
}

func TestDefaultEveryone(t *testing.T) {
	if DefaultEveryone != 1826261000769089 {
		t.Errorf("DefaultEveryone = %d", uint64(DefaultEveryone))
	}
	const legacyObserved = 1071698660929 // @everyone of guilds made 2021-2023
	if !Has(DefaultEveryone, legacyObserved) {
		t.Errorf("missing legacy bits: %v", Permissions(legacyObserved&^DefaultEveryone))
	}
	if DefaultEveryone&RequiresMFA != 0 {
		t.Errorf("grants 2FA-gated bits: %v", Permissions(DefaultEveryone&RequiresMFA))
	}
	for _, b := range []uint64{SendTTSMessages, PinMessages, BypassSlowmode, SetVoiceChannelStatus, ModerateMembers, ManageEvents} {
		if Has(DefaultEveryone, b) {
			t.Errorf("DefaultEveryone has %s", Name(b))
		}
	}
	for _, b := range []uint64{ViewChannel, SendMessages, ReadMessageHistory, SendVoiceMessages, SendPolls, UseExternalApps, UseSoundboard, UseExternalSounds, CreateEvents, CreateGuildExpressions} {
		if !Has(DefaultEveryone, b) {
			t.Errorf("DefaultEveryone lacks %s", Name(b))
		}
	}
}

func TestHasMaskName(t *testing.T) {
	tests := []struct {
		name      string
		p, want   uint64
		wantHas   bool
		wantMask  uint64
		wantNames []string
	}{
		{"empty want", 0, 0, true, 0, []string{}},
		{"single held", ViewChannel | SendMessages, SendMessages, true, ViewChannel | SendMessages, []string{"VIEW_CHANNEL", "SEND_MESSAGES"}},
		{"all of, one missing", ViewChannel, ViewChannel | SendMessages, false, ViewChannel, []string{"VIEW_CHANNEL"}},
		{"undefined bits", 1<<47 | 1<<60 | BypassSlowmode, BypassSlowmode, true, BypassSlowmode, []string{"BYPASS_SLOWMODE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Has(tt.p, tt.want); got != tt.wantHas {
				t.Errorf("Has = %v", got)
			}
			if got := Mask(tt.p); got != tt.wantMask {
				t.Errorf("Mask = %#x", got)
			}
			if got := Names(tt.p); strings.Join(got, ",") != strings.Join(tt.wantNames, ",") {
				t.Errorf("Names = %v", got)
			}
		})
	}
	for _, b := range []uint64{0, 1 << 47, 1 << 63, ViewChannel | SendMessages} {
		if n := Name(b); n != "" {
			t.Errorf("Name(%#x) = %q, want empty", b, n)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		p    Permissions
		want string
	}{
		{0, "0"},
		{ViewChannel, "VIEW_CHANNEL"},
		{AddReactions | SendMessages, "ADD_REACTIONS|SEND_MESSAGES"},
		{PinMessages | 1<<47, "PIN_MESSAGES|0x800000000000"},
		{1 << 63, "0x8000000000000000"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#x.String() = %q, want %q", uint64(tt.p), got, tt.want)
		}
	}
	if n := strings.Count(Permissions(All).String(), "|"); n != 51 {
		t.Errorf("All renders %d separators", n)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr error
	}{
		{"0", 0, nil},
		{"2112", AddReactions | SendMessages, nil},
		{"8", Administrator, nil},
		{"0008", Administrator, nil},
		{"1071698660929", 1071698660929, nil},
		{"2251799813685248", PinMessages, nil},
		{"9007199254740991", 1<<53 - 1, nil}, // beyond JS safe ints is fine
		{"18446744073709551615", 1<<64 - 1, nil},
		{"", 0, ErrSyntax},
		{"-1", 0, ErrSyntax},
		{"+1", 0, ErrSyntax},
		{" 1", 0, ErrSyntax},
		{"1 ", 0, ErrSyntax},
		{"1_000", 0, ErrSyntax},
		{"0x10", 0, ErrSyntax},
		{"1e3", 0, ErrSyntax},
		{"12.0", 0, ErrSyntax},
		{"abc", 0, ErrSyntax},
		{"٣", 0, ErrSyntax}, // non-ASCII digit
		{"null", 0, ErrSyntax},
		{`"8"`, 0, ErrSyntax},
		{"18446744073709551616", 0, ErrRange},
		{"99999999999999999999", 0, ErrRange},
		{"184467440737095516150", 0, ErrRange},
		{"99999999999999999999x", 0, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
			if err == nil {
				if back, _ := Parse(Format(got)); back != got {
					t.Errorf("Format round trip: %d", back)
				}
			}
		})
	}
}

// FuzzParse: run with a count-based limit, e.g.
//
//	go test -run '^$' -fuzz FuzzParse -fuzztime 300000x ./core/perm/
//
// With go1.26 a duration -fuzztime can end in a spurious "context deadline
// exceeded" with no crasher (go.dev/issue/75804, fixed in go1.27).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "2112", "-1", "18446744073709551615", "18446744073709551616", "0x1", "", " 8", "00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		// strconv with base 10 accepts exactly ASCII digits, no sign and no
		// separators, so it is an independent oracle for acceptance.
		want, werr := strconv.ParseUint(s, 10, 64)
		if (err == nil) != (werr == nil) {
			t.Fatalf("Parse(%q) err=%v, strconv err=%v", s, err, werr)
		}
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrRange) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if got != want {
			t.Fatalf("Parse(%q) = %d, want %d", s, got, want)
		}
		if strings.TrimLeft(s, "0") != strings.TrimLeft(Format(got), "0") {
			t.Fatalf("Format(%d) = %q does not match %q", got, Format(got), s)
		}
	})
}
