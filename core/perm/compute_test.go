package perm

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/accord-chat/accord/core/model"
)

const (
	guildID ID = 100
	ownerID ID = 1
	userID  ID = 2
	otherID ID = 3
	roleA   ID = 201
	roleB   ID = 202
	roleC   ID = 203 // a role the member does not have
)

const (
	text     = model.ChannelGuildText
	voice    = model.ChannelGuildVoice
	category = model.ChannelGuildCategory
	thread   = chPublicThread
	stage    = chStageVoice
)

// basic is a plain member's guild-level set in most channel cases.
const basic = ViewChannel | SendMessages | ReadMessageHistory | AddReactions

// textAll is basic plus the bits that depend on SEND_MESSAGES.
const textAll = basic | sendDependents

const voiceBasic = ViewChannel | Connect | Speak | Stream | UseVAD | SendMessages | ReadMessageHistory

func everyoneOW(allow, deny uint64) model.Overwrite {
	return model.Overwrite{ID: guildID, Type: model.OverwriteRole, Allow: allow, Deny: deny}
}

func roleOW(id ID, allow, deny uint64) model.Overwrite {
	return model.Overwrite{ID: id, Type: model.OverwriteRole, Allow: allow, Deny: deny}
}

func memberOW(id ID, allow, deny uint64) model.Overwrite {
	return model.Overwrite{ID: id, Type: model.OverwriteMember, Allow: allow, Deny: deny}
}

// member builds an Input for userID holding roles A and B (whose guild-level
// permissions are rolePerms) in a guild owned by ownerID.
func member(everyone uint64, rolePerms ...uint64) Input {
	return Input{
		GuildID:   guildID,
		OwnerID:   ownerID,
		UserID:    userID,
		Everyone:  everyone,
		RoleIDs:   []ID{roleA, roleB},
		RolePerms: rolePerms,
	}
}

func (in Input) in(chType int, ows ...model.Overwrite) Input {
	in.ChannelType = chType
	in.Overwrites = ows
	return in
}

func (in Input) timedOut() Input { in.TimedOut = true; return in }

func (in Input) as(user ID) Input { in.UserID = user; return in }

func TestComputeBase(t *testing.T) {
	tests := []struct {
		name string
		in   Input
		want uint64
	}{
		{"owner gets All with nothing granted", member(0).as(ownerID), All},
		{"owner ignores timeout", member(0).as(ownerID).timedOut(), All},
		{"zero owner ID makes nobody owner", Input{UserID: 0, Everyone: ViewChannel}, ViewChannel},
		{"everyone only", member(basic), basic},
		{"everyone OR roles", member(ViewChannel, SendMessages, AddReactions|PinMessages), ViewChannel | SendMessages | AddReactions | PinMessages},
		{"roles union even if @everyone is empty", member(0, KickMembers, BanMembers), KickMembers | BanMembers},
		{"ADMINISTRATOR via @everyone", member(Administrator), All},
		{"ADMINISTRATOR via a role", member(ViewChannel, SendMessages, Administrator), All},
		{"admin ignores timeout", member(ViewChannel, Administrator).timedOut(), All},
		{"undefined bits dropped", member(ViewChannel|1<<47|1<<63, 1<<55), ViewChannel},
		{"timed out keeps view and history", member(DefaultEveryone, ManageMessages|KickMembers).timedOut(), ViewChannel | ReadMessageHistory},
		{"timed out without view", member(SendMessages).timedOut(), 0},
		{"no roles no perms", member(0), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ComputeBase(tt.in); got != tt.want {
				t.Errorf("got %v, want %v", Permissions(got), Permissions(tt.want))
			}
		})
	}
}

func TestCompute(t *testing.T) {
	tests := []struct {
		name string
		in   Input
		want uint64
	}{
		// Plain base, no overwrites.
		{"no overwrites keeps base", member(textAll).in(text), textAll},
		{"guild-only bits survive in channel", member(basic | KickMembers).in(text), basic | KickMembers},

		// Owner and administrator.
		{"owner ignores overwrites", member(0).as(ownerID).in(text,
			everyoneOW(0, ViewChannel), memberOW(ownerID, 0, All)), All},
		{"ADMINISTRATOR via @everyone ignores overwrites", member(Administrator).in(text,
			everyoneOW(0, ViewChannel)), All},
		{"ADMINISTRATOR via role ignores overwrites", member(basic, Administrator).in(text,
			everyoneOW(0, All), roleOW(roleA, 0, All), memberOW(userID, 0, All)), All},
		{"ADMINISTRATOR ignores voice CONNECT rule", member(Administrator).in(voice,
			everyoneOW(0, Connect)), All},
		{"overwrite cannot grant ADMINISTRATOR", member(basic).in(text,
			everyoneOW(Administrator, 0), memberOW(userID, Administrator, 0)), basic},

		// @everyone overwrite.
		{"@everyone deny", member(basic).in(text, everyoneOW(0, SendMessages)), basic &^ SendMessages},
		{"@everyone allow", member(basic).in(text, everyoneOW(PinMessages, 0)), basic | PinMessages},
		{"@everyone allow applied after its deny", member(basic).in(text,
			everyoneOW(AddReactions, AddReactions)), basic},
		{"@everyone deny removes a role's guild grant", member(basic, ManageMessages).in(text,
			everyoneOW(0, ManageMessages)), basic},

		// Role overwrites.
		{"role deny", member(basic).in(text, roleOW(roleA, 0, AddReactions)), basic &^ AddReactions},
		{"role allow", member(basic).in(text, roleOW(roleB, ManageThreads, 0)), basic | ManageThreads},
		{"role allow beats another role's deny", member(basic).in(text,
			roleOW(roleA, 0, SendMessages), roleOW(roleB, SendMessages, 0)), basic},
		{"role allow beats another role's deny, listed the other way", member(basic).in(text,
			roleOW(roleB, SendMessages, 0), roleOW(roleA, 0, SendMessages)), basic},
		{"same role allow and deny: allow wins", member(basic).in(text,
			roleOW(roleA, PinMessages, PinMessages)), basic | PinMessages},
		{"role allow beats @everyone deny", member(basic).in(text,
			everyoneOW(0, SendMessages), roleOW(roleA, SendMessages, 0)), basic},
		{"role deny beats @everyone allow", member(basic).in(text,
			everyoneOW(PinMessages, 0), roleOW(roleA, 0, PinMessages)), basic},
		{"overwrite for a role the member lacks is ignored", member(basic).in(text,
			roleOW(roleC, 0, ViewChannel)), basic},
		{"role overwrite carrying the user's ID is ignored", member(basic).in(text,
			roleOW(userID, 0, ViewChannel)), basic},
		{"@everyone in RoleIDs is not applied twice", func() Input {
			in := member(basic).in(text, everyoneOW(SendMessages, 0), roleOW(roleA, 0, SendMessages))
			in.RoleIDs = []ID{guildID, roleA}
			return in
		}(), basic &^ SendMessages},

		// Member overwrite.
		{"member allow beats role deny", member(basic).in(text,
			roleOW(roleA, 0, SendMessages), memberOW(userID, SendMessages, 0)), basic},
		{"member deny beats role allow", member(basic).in(text,
			roleOW(roleA, PinMessages, 0), memberOW(userID, 0, PinMessages)), basic},
		{"member deny beats @everyone allow, whatever the list order", member(basic).in(text,
			memberOW(userID, 0, AddReactions), everyoneOW(AddReactions, 0)), basic &^ AddReactions},
		{"member allow applied after its deny", member(basic).in(text,
			memberOW(userID, ManageMessages, ManageMessages)), basic | ManageMessages},
		{"overwrite for another member is ignored", member(basic).in(text,
			memberOW(otherID, 0, ViewChannel)), basic},
		{"member overwrite carrying a role's ID is ignored", member(basic).in(text,
			memberOW(roleA, 0, ViewChannel)), basic},

		// VIEW_CHANNEL.
		{"no VIEW_CHANNEL hides everything", member(SendMessages | ManageMessages | KickMembers).in(text), 0},
		{"VIEW_CHANNEL denied on channel", member(basic, ManageMessages).in(text,
			everyoneOW(0, ViewChannel)), 0},
		{"VIEW_CHANNEL denied by role", member(basic).in(text,
			roleOW(roleA, 0, ViewChannel)), 0},
		{"VIEW_CHANNEL denied on channel, allowed by role", member(basic).in(text,
			everyoneOW(0, ViewChannel), roleOW(roleB, ViewChannel, 0)), basic},
		{"VIEW_CHANNEL denied on channel, allowed by member overwrite", member(basic).in(text,
			everyoneOW(0, ViewChannel), roleOW(roleA, 0, ViewChannel), memberOW(userID, ViewChannel, 0)), basic},
		{"private channel granted to a role", member(SendMessages).in(text,
			everyoneOW(0, ViewChannel), roleOW(roleA, ViewChannel|ReadMessageHistory, 0)), ViewChannel | SendMessages | ReadMessageHistory},

		// SEND_MESSAGES implicit denial.
		{"send dependents kept with SEND_MESSAGES", member(textAll).in(text), textAll},
		{"no SEND_MESSAGES strips dependents", member(textAll &^ SendMessages).in(text),
			basic &^ SendMessages},
		{"SEND_MESSAGES denied by overwrite strips dependents", member(textAll).in(text,
			everyoneOW(0, SendMessages)), basic &^ SendMessages},
		{"dependents allowed by overwrite still stripped without send", member(basic).in(text,
			roleOW(roleA, AttachFiles|EmbedLinks, SendMessages)), basic &^ SendMessages},
		{"read-only channel keeps reactions and history", member(textAll|PinMessages).in(text,
			everyoneOW(0, SendMessages|AddReactions)), ViewChannel | ReadMessageHistory | PinMessages},
		{"announcement channel follows text rules", member(textAll &^ SendMessages).in(5),
			basic &^ SendMessages},
		{"thread: SEND_MESSAGES_IN_THREADS gates dependents", member(textAll|SendMessagesInThreads).in(thread,
			everyoneOW(0, SendMessages)), textAll&^SendMessages | SendMessagesInThreads},
		{"thread: SEND_MESSAGES alone does not keep dependents", member(textAll).in(thread),
			basic},
		{"private thread uses thread rule", member(textAll).in(chPrivateThread), basic},
		{"category keeps dependents without send", member(textAll &^ SendMessages).in(category),
			textAll &^ SendMessages},
		{"category still hidden without view", member(textAll &^ ViewChannel).in(category), 0},

		// Timeouts.
		{"timed out keeps view and history", member(textAll | PinMessages).timedOut().in(text),
			ViewChannel | ReadMessageHistory},
		{"timed out: overwrites cannot restore", member(textAll).timedOut().in(text,
			memberOW(userID, SendMessages|AddReactions, 0)), ViewChannel | ReadMessageHistory},
		{"timed out: hidden channel stays hidden", member(textAll).timedOut().in(text,
			everyoneOW(0, ViewChannel)), 0},
		{"timed out admin exempt", member(basic, Administrator).timedOut().in(text,
			everyoneOW(0, ViewChannel)), All},
		{"timed out in voice: no CONNECT, so view only", member(voiceBasic).timedOut().in(voice), ViewChannel},

		// Voice and stage.
		{"voice with CONNECT keeps everything", member(voiceBasic | sendDependents).in(voice), voiceBasic | sendDependents},
		{"voice without CONNECT: view only", member(voiceBasic|MuteMembers|MoveMembers, ManageChannels|ManageRoles).in(voice,
			everyoneOW(0, Connect)), ViewChannel},
		{"voice: member overwrite denies CONNECT", member(voiceBasic).in(voice,
			memberOW(userID, 0, Connect)), ViewChannel},
		{"voice: role overwrite allows CONNECT", member(voiceBasic&^Connect).in(voice,
			roleOW(roleB, Connect, 0)), voiceBasic},
		{"voice: text chat follows SEND rule", member(voiceBasic|sendDependents).in(voice,
			everyoneOW(0, SendMessages)), voiceBasic &^ SendMessages},
		{"voice hidden without view", member(voiceBasic &^ ViewChannel).in(voice), 0},
		{"stage without CONNECT: view only", member(voiceBasic|RequestToSpeak).in(stage,
			everyoneOW(0, Connect)), ViewChannel},
		{"stage with CONNECT", member(ViewChannel | Connect | RequestToSpeak).in(stage),
			ViewChannel | Connect | RequestToSpeak},
		{"text channel does not need CONNECT", member(basic).in(text), basic},

		// Split permissions.
		{"MANAGE_MESSAGES does not imply PIN_MESSAGES", member(basic, ManageMessages).in(text), basic | ManageMessages},
		{"PIN_MESSAGES without MANAGE_MESSAGES", member(basic).in(text, roleOW(roleA, PinMessages, 0)), basic | PinMessages},
		{"BYPASS_SLOWMODE independent of MANAGE_CHANNELS", member(basic, ManageChannels|ManageMessages|ManageThreads).in(text),
			basic | ManageChannels | ManageMessages | ManageThreads},

		// Hygiene.
		{"undefined bits in overwrites dropped", member(basic).in(text, everyoneOW(1<<47|1<<60, 0)), basic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compute(tt.in)
			if got != tt.want {
				t.Errorf("got  %v\nwant %v", Permissions(got), Permissions(tt.want))
			}
			if fb := InChannel(ComputeBase(tt.in), tt.in); fb != got {
				t.Errorf("InChannel(ComputeBase) = %v, Compute = %v", Permissions(fb), Permissions(got))
			}
		})
	}
}

func TestCanRead(t *testing.T) {
	tests := []struct {
		name   string
		p      uint64
		chType int
		want   bool
	}{
		{"text with view", ViewChannel, text, true},
		{"text without view", ReadMessageHistory, text, false},
		{"thread with view", ViewChannel, thread, true},
		{"voice with view only", ViewChannel, voice, false},
		{"voice with view and connect", ViewChannel | Connect, voice, true},
		{"stage with view and connect", ViewChannel | Connect, stage, true},
		{"stage view only", ViewChannel, stage, false},
		{"all", All, voice, true},
	}
	for _, tt := range tests {
		if got := CanRead(tt.p, tt.chType); got != tt.want {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
}

// guildFixture is the model-object form of the Input fixtures.
func guildFixture() (*model.Guild, map[ID]*model.Role) {
	g := &model.Guild{ID: guildID, OwnerID: ownerID}
	roles := map[ID]*model.Role{
		guildID: {ID: guildID, Name: "@everyone", Permissions: basic},
		roleA:   {ID: roleA, Position: 1, Permissions: PinMessages},
		roleB:   {ID: roleB, Position: 2, Permissions: ManageMessages},
		roleC:   {ID: roleC, Position: 3, Permissions: Administrator},
	}
	return g, roles
}

func TestForMemberAndChannel(t *testing.T) {
	g, roles := guildFixture()
	ch := &model.Channel{ID: 500, Type: text, GuildID: guildID, PermissionOverwrites: []model.Overwrite{
		everyoneOW(0, AddReactions),
		roleOW(roleA, AddReactions, 0),
		memberOW(otherID, 0, ViewChannel),
	}}
	tests := []struct {
		name        string
		m           *model.Member
		wantBase    uint64
		wantChannel uint64
	}{
		{"no roles", &model.Member{UserID: userID}, basic, basic &^ AddReactions},
		{"role A", &model.Member{UserID: userID, Roles: []ID{roleA}}, basic | PinMessages, basic | PinMessages},
		{"roles A and B", &model.Member{UserID: userID, Roles: []ID{roleA, roleB}}, basic | PinMessages | ManageMessages, basic | PinMessages | ManageMessages},
		{"admin role", &model.Member{UserID: userID, Roles: []ID{roleC}}, All, All},
		{"deleted role ignored", &model.Member{UserID: userID, Roles: []ID{999}}, basic, basic &^ AddReactions},
		{"owner", &model.Member{UserID: ownerID}, All, All},
		{"other member hidden by overwrite", &model.Member{UserID: otherID}, basic, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ForMember(g, roles, tt.m); got != tt.wantBase {
				t.Errorf("ForMember = %v, want %v", Permissions(got), Permissions(tt.wantBase))
			}
			if got := ForChannel(g, roles, tt.m, ch); got != tt.wantChannel {
				t.Errorf("ForChannel = %v, want %v", Permissions(got), Permissions(tt.wantChannel))
			}
			// The model helpers and Compute must agree.
			in := Input{GuildID: g.ID, OwnerID: g.OwnerID, UserID: tt.m.UserID, Everyone: roles[guildID].Permissions,
				RoleIDs: tt.m.Roles, Overwrites: ch.PermissionOverwrites, ChannelType: ch.Type}
			for _, id := range tt.m.Roles {
				if r := roles[id]; r != nil {
					in.RolePerms = append(in.RolePerms, r.Permissions)
				}
			}
			if got := Compute(in); got != tt.wantChannel {
				t.Errorf("Compute = %v, want %v", Permissions(got), Permissions(tt.wantChannel))
			}
		})
	}
	// A guild whose roles map lacks @everyone grants nothing by default.
	delete(roles, guildID)
	if got := ForMember(g, roles, &model.Member{UserID: userID}); got != 0 {
		t.Errorf("missing @everyone: %v", Permissions(got))
	}
}

// reference is Discord's documented pseudocode transcribed literally (maps,
// early returns) plus the implicit rules written as independent checks. The
// property test compares Compute against it on random inputs.
func reference(in Input) uint64 {
	if in.OwnerID != 0 && in.UserID == in.OwnerID {
		return All
	}
	perms := in.Everyone
	for _, p := range in.RolePerms {
		perms |= p
	}
	if perms&Administrator == Administrator {
		return All
	}
	perms &= All

	type key struct {
		typ int
		id  ID
	}
	ows := map[key]model.Overwrite{}
	for _, ow := range in.Overwrites {
		k := key{ow.Type, ow.ID}
		prev := ows[k]
		ows[k] = model.Overwrite{ID: ow.ID, Type: ow.Type, Allow: prev.Allow | ow.Allow, Deny: prev.Deny | ow.Deny}
	}
	if ow, ok := ows[key{model.OverwriteRole, in.GuildID}]; ok {
		perms &^= ow.Deny
		perms |= ow.Allow
	}
	var allow, deny uint64
	seen := map[ID]bool{}
	for _, id := range in.RoleIDs {
		if id == in.GuildID || seen[id] {
			continue
		}
		seen[id] = true
		if ow, ok := ows[key{model.OverwriteRole, id}]; ok {
			allow |= ow.Allow
			deny |= ow.Deny
		}
	}
	perms &^= deny
	perms |= allow
	if ow, ok := ows[key{model.OverwriteMember, in.UserID}]; ok {
		perms &^= ow.Deny
		perms |= ow.Allow
	}
	perms &= All &^ Administrator

	if in.TimedOut {
		perms &= ViewChannel | ReadMessageHistory
	}
	if perms&ViewChannel == 0 {
		return 0
	}
	isVoice := in.ChannelType == voice || in.ChannelType == stage
	if isVoice && perms&Connect == 0 {
		return ViewChannel
	}
	if in.ChannelType == category {
		return perms
	}
	canSend := perms&SendMessages != 0
	if in.ChannelType == 10 || in.ChannelType == 11 || in.ChannelType == 12 {
		canSend = perms&SendMessagesInThreads != 0
	}
	if !canSend {
		perms &^= MentionEveryone | SendTTSMessages | AttachFiles | EmbedLinks
	}
	return perms
}

func randomInput(r *rand.Rand) Input {
	// A small pool of interesting bits makes collisions between grants,
	// denies and implicit rules common.
	pool := []uint64{ViewChannel, SendMessages, Connect, SendMessagesInThreads, EmbedLinks,
		AttachFiles, MentionEveryone, SendTTSMessages, ReadMessageHistory, PinMessages,
		ManageMessages, KickMembers, 1 << 47, 1 << 60}
	bitsOf := func(n int) uint64 {
		var p uint64
		for range r.IntN(n + 1) {
			p |= pool[r.IntN(len(pool))]
		}
		if r.IntN(40) == 0 {
			p |= Administrator
		}
		return p
	}
	ids := []ID{guildID, ownerID, userID, otherID, roleA, roleB, roleC}
	in := Input{GuildID: guildID, OwnerID: ownerID, UserID: userID, Everyone: bitsOf(6)}
	if r.IntN(30) == 0 {
		in.UserID = ownerID
	}
	if r.IntN(30) == 0 {
		in.OwnerID = 0
	}
	for _, id := range []ID{roleA, roleB, guildID} {
		if r.IntN(2) == 0 {
			in.RoleIDs = append(in.RoleIDs, id)
			in.RolePerms = append(in.RolePerms, bitsOf(3))
		}
	}
	for range r.IntN(6) {
		in.Overwrites = append(in.Overwrites, model.Overwrite{
			ID: ids[r.IntN(len(ids))], Type: r.IntN(2), Allow: bitsOf(3), Deny: bitsOf(3),
		})
	}
	in.ChannelType = []int{text, voice, category, 5, 10, 11, 12, stage, 15}[r.IntN(9)]
	in.TimedOut = r.IntN(5) == 0
	return in
}

func TestComputeProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 200000
	if testing.Short() {
		n = 20000
	}
	for i := range n {
		in := randomInput(r)
		got := Compute(in)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("case %d %+v: got %v: "+format, append([]any{i, in, Permissions(got)}, args...)...)
		}
		if want := reference(in); got != want {
			fail("reference says %v", Permissions(want))
		}
		if got&^All != 0 {
			fail("undefined bits")
		}
		if v := InChannel(ComputeBase(in), in); v != got {
			fail("InChannel(ComputeBase) = %v", Permissions(v))
		}
		notTimed := in
		notTimed.TimedOut = false
		if v := InChannel(ComputeBase(notTimed), in); v != got {
			fail("timeout must not depend on where it is applied: %v", Permissions(v))
		}
		base := in.Everyone
		for _, p := range in.RolePerms {
			base |= p
		}
		privileged := base&Administrator != 0 || (in.OwnerID != 0 && in.UserID == in.OwnerID)
		if privileged {
			if got != All {
				fail("owner/admin must get All")
			}
			continue
		}
		if got&Administrator != 0 {
			fail("ADMINISTRATOR leaked through overwrites")
		}
		if got&ViewChannel == 0 && got != 0 {
			fail("no VIEW_CHANNEL must be 0")
		}
		if in.TimedOut && got&^(ViewChannel|ReadMessageHistory) != 0 {
			fail("timed out member kept too much")
		}
		if (in.ChannelType == voice || in.ChannelType == stage) && got&Connect == 0 && got&^ViewChannel != 0 {
			fail("voice without CONNECT kept more than VIEW_CHANNEL")
		}
		if in.ChannelType == text && got&SendMessages == 0 && got&sendDependents != 0 {
			fail("send dependents without SEND_MESSAGES")
		}
		if got&^ComputeBase(in) != 0 && len(in.Overwrites) == 0 {
			fail("a channel without overwrites granted more than the base")
		}
		// Order of overwrites and roles must not matter.
		sh := in
		sh.Overwrites = slices.Clone(in.Overwrites)
		sh.RoleIDs = slices.Clone(in.RoleIDs)
		sh.RolePerms = slices.Clone(in.RolePerms)
		r.Shuffle(len(sh.Overwrites), func(a, b int) { sh.Overwrites[a], sh.Overwrites[b] = sh.Overwrites[b], sh.Overwrites[a] })
		r.Shuffle(len(sh.RoleIDs), func(a, b int) { sh.RoleIDs[a], sh.RoleIDs[b] = sh.RoleIDs[b], sh.RoleIDs[a] })
		r.Shuffle(len(sh.RolePerms), func(a, b int) { sh.RolePerms[a], sh.RolePerms[b] = sh.RolePerms[b], sh.RolePerms[a] })
		if v := Compute(sh); v != got {
			fail("order dependent: %v", Permissions(v))
		}
		// A member overwrite allowing a bit (with everything it depends on)
		// always wins unless the member is timed out.
		if !in.TimedOut {
			w := in
			w.Overwrites = append(slices.Clone(in.Overwrites), memberOW(in.UserID, ViewChannel|SendMessages|SendMessagesInThreads|Connect|EmbedLinks, 0))
			if v := Compute(w); !Has(v, ViewChannel|EmbedLinks) {
				fail("member allow lost: %v", Permissions(v))
			}
		}
	}
}

func TestComputeDoesNotAllocate(t *testing.T) {
	in := benchInput()
	g, roles := guildFixture()
	m := &model.Member{UserID: userID, Roles: []ID{roleA, roleB}}
	ch := &model.Channel{Type: text, PermissionOverwrites: in.Overwrites}
	var sink uint64
	for name, f := range map[string]func(){
		"Compute":     func() { sink += Compute(in) },
		"ComputeBase": func() { sink += ComputeBase(in) },
		"ForMember":   func() { sink += ForMember(g, roles, m) },
		"ForChannel":  func() { sink += ForChannel(g, roles, m, ch) },
	} {
		if a := testing.AllocsPerRun(100, f); a != 0 {
			t.Errorf("%s allocates %v times", name, a)
		}
	}
	_ = sink
}

// benchInput is a realistic member: five roles, a channel with a handful of
// overwrites, most of which do not apply.
func benchInput() Input {
	return Input{
		GuildID:   guildID,
		OwnerID:   ownerID,
		UserID:    userID,
		Everyone:  DefaultEveryone,
		RoleIDs:   []ID{roleA, roleB, 301, 302, 303},
		RolePerms: []uint64{PinMessages, ManageMessages, 0, ManageThreads, KickMembers},
		Overwrites: []model.Overwrite{
			everyoneOW(0, ViewChannel),
			roleOW(roleA, ViewChannel, 0),
			roleOW(roleC, SendMessages, 0),
			roleOW(303, 0, AttachFiles),
			memberOW(otherID, ViewChannel, 0),
			memberOW(userID, 0, MentionEveryone),
		},
		ChannelType: text,
	}
}

func BenchmarkCompute(b *testing.B) {
	in := benchInput()
	b.ReportAllocs()
	var sink uint64
	for b.Loop() {
		sink += Compute(in)
	}
	_ = sink
}

func BenchmarkInChannelFromBase(b *testing.B) {
	in := benchInput()
	base := ComputeBase(in)
	b.ReportAllocs()
	var sink uint64
	for b.Loop() {
		sink += InChannel(base, in)
	}
	_ = sink
}

func BenchmarkForChannel(b *testing.B) {
	g, roles := guildFixture()
	m := &model.Member{UserID: userID, Roles: []ID{roleA, roleB}}
	ch := &model.Channel{Type: text, PermissionOverwrites: benchInput().Overwrites}
	b.ReportAllocs()
	var sink uint64
	for b.Loop() {
		sink += ForChannel(g, roles, m, ch)
	}
	_ = sink
}
