package engine

import (
	"reflect"
	"testing"
)

// TestRehost: the sweep's decisions for one guild. A dead gateway node
// takes its members' voice states with it; a channel whose host died
// moves, all its members together, to the node of its first member by
// user ID that lives; channels whose host lives are left alone.
func TestRehost(t *testing.T) {
	alive := func(n string) bool { return n != "dead" }
	vs := func(ch ID, node, host string) *VoiceState {
		return &VoiceState{ChannelID: ch, SessionID: "s-" + node, Node: node, Host: host, SelfVideo: true}
	}
	moved := func(v *VoiceState, host string) *VoiceState {
		c := *v
		c.Host, c.SelfVideo = host, false
		return &c
	}
	states := map[ID]*VoiceState{
		1: vs(10, "dead", "dead"), // gone with its node
		2: vs(10, "n3", "dead"),   // first live member of 10: n3 hosts it
		3: vs(10, "n2", "dead"),
		4: vs(20, "n2", "n1"), // host alive: untouched
		5: vs(30, "n1", "dead"),
	}
	got := rehost(7, states, alive)
	want := []VoiceChange{
		{GuildID: 7, UserID: 1},
		{GuildID: 7, UserID: 2, State: moved(states[2], "n3"), Rehost: true},
		{GuildID: 7, UserID: 3, State: moved(states[3], "n3"), Rehost: true},
		{GuildID: 7, UserID: 5, State: moved(states[5], "n1"), Rehost: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rehost:\n got %+v\nwant %+v", got, want)
	}
	if got := rehost(7, map[ID]*VoiceState{4: vs(20, "n2", "n1")}, alive); len(got) != 0 {
		t.Fatalf("a guild with live hosts changed: %+v", got)
	}
}

// TestJoinKeepsTheChannelsHost: a join proposed with the joiner's own
// node as host (its replica had not seen the first member yet) is given
// the channel's host when applied; a rehost sets the host it names.
func TestJoinKeepsTheChannelsHost(t *testing.T) {
	s := &State{Voice: map[ID]*VoiceState{}}
	s.setVoice(VoiceChange{GuildID: 1, UserID: 10, State: &VoiceState{ChannelID: 5, SessionID: "a", Node: "n1", Host: "n1"}})
	s.setVoice(VoiceChange{GuildID: 1, UserID: 20, State: &VoiceState{ChannelID: 5, SessionID: "b", Node: "n2", Host: "n2"}})
	if h := s.Voice[20].Host; h != "n1" {
		t.Fatalf("second joiner's host %q, want the channel's n1", h)
	}
	s.setVoice(VoiceChange{GuildID: 1, UserID: 30, State: &VoiceState{ChannelID: 6, SessionID: "c", Node: "n3", Host: "n3"}})
	if h := s.Voice[30].Host; h != "n3" {
		t.Fatalf("first of another channel: host %q, want its own n3", h)
	}
	for _, uid := range []ID{10, 20} {
		st := *s.Voice[uid]
		st.Host = "n2"
		s.setVoice(VoiceChange{GuildID: 1, UserID: uid, State: &st, Rehost: true})
	}
	if s.Voice[10].Host != "n2" || s.Voice[20].Host != "n2" {
		t.Fatalf("after a rehost to n2: %q and %q", s.Voice[10].Host, s.Voice[20].Host)
	}
}
