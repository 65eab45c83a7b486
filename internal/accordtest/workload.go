package accordtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/model"
)

// Exec runs fn on an engine that can sequence it: Cluster.OnLeader.
type Exec func(fn func(e *engine.Engine) error) error

// Workload is a reproducible random sequence of commands over a few users
// and guilds: guilds, channels, roles, invites and members, messages with
// edits, replies, pins, reactions, bulk deletes, typing, bans, DMs,
// presence and voice. The same Seed gives the same commands in the same
// order whatever runs them, so two regions can be compared on it.
type Workload struct {
	Seed  int64
	Steps int
}

// workloadState is what the workload has made so far.
type workloadState struct {
	users  []engine.ID
	guilds []*wguild
	dms    []engine.ID
}

type wguild struct {
	id, owner, text, voice engine.ID
	members                []engine.ID
	roles                  []engine.ID
	channels               []engine.ID
	messages               map[engine.ID][]engine.ID // channel → message IDs still there
}

// Run runs the workload through exec and returns each step's outcome
// ("ok" or the error's Discord code), which must be the same for every
// region that runs it. at, when set, is called before every step with its
// number, for faults and snapshots in mid-run.
func (w Workload) Run(t testing.TB, exec Exec, at func(step int)) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(w.Seed), 0x5eed))
	st := &workloadState{}
	ctx := context.Background()
	var outcomes []string
	do := func(what string, fn func(e *engine.Engine) error) {
		err := exec(fn)
		outcomes = append(outcomes, what+": "+outcome(err))
		if err != nil && !isAPIError(err) {
			t.Fatalf("step %d (%s): %v", len(outcomes), what, err)
		}
	}
	for i := range 4 {
		do("register", func(e *engine.Engine) error {
			u, _, err := e.Register(ctx, fmt.Sprintf("user%d_%d", w.Seed, i), "correct horse battery staple")
			if err == nil {
				st.users = append(st.users, u.ID)
			}
			return err
		})
	}
	pick := func(ids []engine.ID) engine.ID {
		if len(ids) == 0 {
			return 0
		}
		return ids[rng.IntN(len(ids))]
	}
	for step := range w.Steps {
		if at != nil {
			at(step)
		}
		if len(st.guilds) == 0 || (len(st.guilds) < 3 && rng.IntN(20) == 0) {
			owner := pick(st.users)
			do("create guild", func(e *engine.Engine) error {
				gid, err := e.CreateGuild(ctx, owner, fmt.Sprintf("guild %d", len(st.guilds)), nil)
				if err != nil {
					return err
				}
				g := &wguild{id: gid, owner: owner, members: []engine.ID{owner}, messages: map[engine.ID][]engine.ID{}}
				err = e.View(gid, func(s *engine.State) error {
					for _, c := range s.SortedChannels() {
						switch c.Type {
						case model.ChannelGuildText:
							g.text = c.ID
							g.channels = append(g.channels, c.ID)
						case model.ChannelGuildVoice:
							g.voice = c.ID
						}
					}
					return nil
				})
				st.guilds = append(st.guilds, g)
				return err
			})
			continue
		}
		g := st.guilds[rng.IntN(len(st.guilds))]
		actor := pick(g.members)
		ch := pick(g.channels)
		msgs := g.messages[ch]
		switch op := rng.IntN(100); {
		case op < 30:
			content := fmt.Sprintf("message %d of step %d <@%d>", rng.IntN(1000), step, pick(st.users))
			var ref *model.MessageReference
			if len(msgs) > 0 && rng.IntN(4) == 0 {
				ref = &model.MessageReference{MessageID: pick(msgs)}
			}
			do("message", func(e *engine.Engine) error {
				ev, err := e.CreateMessage(ctx, actor, ch, engine.MessageParams{Content: content, Reference: ref})
				if err == nil {
					g.messages[ch] = append(g.messages[ch], ev.Message.ID)
				}
				return err
			})
		case op < 36 && len(msgs) > 0:
			mid, content := pick(msgs), fmt.Sprintf("edited at step %d", step)
			do("edit", func(e *engine.Engine) error {
				_, err := e.EditMessage(ctx, actor, ch, mid, engine.MessagePatch{Content: &content})
				return err
			})
		case op < 40 && len(msgs) > 0:
			mid := pick(msgs)
			do("delete message", func(e *engine.Engine) error {
				err := e.DeleteMessage(ctx, actor, ch, mid)
				if err == nil {
					g.messages[ch] = remove(g.messages[ch], mid)
				}
				return err
			})
		case op < 42 && len(msgs) > 2:
			ids := []engine.ID{msgs[0], msgs[1]}
			do("bulk delete", func(e *engine.Engine) error {
				err := e.BulkDelete(ctx, g.owner, ch, ids)
				if err == nil {
					g.messages[ch] = remove(remove(g.messages[ch], ids[0]), ids[1])
				}
				return err
			})
		case op < 46 && len(msgs) > 0:
			mid, pin := pick(msgs), rng.IntN(3) != 0
			do("pin", func(e *engine.Engine) error { return e.SetPinned(ctx, actor, ch, mid, pin) })
		case op < 56 && len(msgs) > 0:
			mid, emoji := pick(msgs), []string{"👍", "🔥", "custom:123"}[rng.IntN(3)]
			do("react", func(e *engine.Engine) error { return e.AddReaction(ctx, actor, ch, mid, emoji) })
		case op < 59 && len(msgs) > 0:
			mid := pick(msgs)
			do("unreact", func(e *engine.Engine) error { return e.RemoveReaction(ctx, actor, ch, mid, "👍", actor) })
		case op < 60 && len(msgs) > 0:
			mid := pick(msgs)
			do("clear reactions", func(e *engine.Engine) error { return e.ClearReactions(ctx, g.owner, ch, mid, "") })
		case op < 64:
			do("typing", func(e *engine.Engine) error { return e.Typing(ctx, actor, ch) })
		case op < 70:
			joiner := pick(st.users)
			do("join by invite", func(e *engine.Engine) error {
				inv, err := e.CreateInvite(ctx, g.owner, g.text, engine.InviteParams{})
				if err != nil {
					return err
				}
				if _, err := e.AcceptInvite(ctx, joiner, inv.Code); err != nil {
					return err
				}
				if !contains(g.members, joiner) {
					g.members = append(g.members, joiner)
				}
				return nil
			})
		case op < 73:
			name := fmt.Sprintf("role %d", step)
			do("create role", func(e *engine.Engine) error {
				r, err := e.CreateRole(ctx, g.owner, g.id, engine.RolePatch{Name: &name})
				if err == nil {
					g.roles = append(g.roles, r.ID)
				}
				return err
			})
		case op < 76 && len(g.roles) > 0:
			rid, uid := pick(g.roles), pick(g.members)
			do("add role", func(e *engine.Engine) error { return e.SetMemberRole(ctx, g.owner, g.id, uid, rid, true) })
		case op < 78:
			nick, uid := fmt.Sprintf("nick %d", step), pick(g.members)
			np := &nick
			do("nick", func(e *engine.Engine) error {
				_, err := e.ModifyMember(ctx, g.owner, g.id, uid, engine.MemberPatch{Nick: &np})
				return err
			})
		case op < 80:
			name := fmt.Sprintf("channel-%d", step)
			do("create channel", func(e *engine.Engine) error {
				c, err := e.CreateChannel(ctx, g.owner, g.id, engine.ChannelParams{Name: name})
				if err == nil {
					g.channels = append(g.channels, c.ID)
				}
				return err
			})
		case op < 81 && len(g.channels) > 1 && ch != g.text:
			do("delete channel", func(e *engine.Engine) error {
				_, err := e.DeleteChannel(ctx, g.owner, ch)
				if err == nil {
					g.channels = remove(g.channels, ch)
					delete(g.messages, ch)
				}
				return err
			})
		case op < 83:
			uid := pick(st.users)
			do("ban", func(e *engine.Engine) error {
				err := e.Ban(ctx, g.owner, g.id, uid, nil)
				if err == nil {
					g.members = remove(g.members, uid)
				}
				return err
			})
		case op < 84:
			uid := pick(st.users)
			do("unban", func(e *engine.Engine) error { return e.Unban(ctx, g.owner, g.id, uid) })
		case op < 86:
			uid := pick(g.members)
			do("kick", func(e *engine.Engine) error {
				err := e.RemoveMember(ctx, g.owner, g.id, uid)
				if err == nil {
					g.members = remove(g.members, uid)
				}
				return err
			})
		case op < 87:
			name := fmt.Sprintf("renamed at %d", step)
			do("rename guild", func(e *engine.Engine) error {
				_, err := e.ModifyGuild(ctx, g.owner, g.id, engine.GuildPatch{Name: &name})
				return err
			})
		case op < 90:
			a, b := pick(st.users), pick(st.users)
			do("dm", func(e *engine.Engine) error {
				c, err := e.OpenDM(ctx, a, b)
				if err != nil {
					return err
				}
				if !contains(st.dms, c.ID) {
					st.dms = append(st.dms, c.ID)
				}
				_, err = e.CreateMessage(ctx, a, c.ID, engine.MessageParams{Content: fmt.Sprintf("dm at %d", step)})
				return err
			})
		case op < 95:
			uid, status := pick(st.users), []string{"online", "idle", "dnd"}[rng.IntN(3)]
			do("presence", func(e *engine.Engine) error {
				return e.SetPresence(ctx, "node-a", uid, &engine.Presence{Status: status})
			})
		default:
			uid, voice, mute := actor, g.voice, rng.IntN(2) == 0
			if rng.IntN(3) == 0 {
				voice = 0 // leave
			}
			do("voice", func(e *engine.Engine) error {
				return e.UpdateVoice(ctx, uid, g.id, voice, fmt.Sprintf("session-%d", uid), "node-a", mute, false)
			})
		}
	}
	return outcomes
}

func outcome(err error) string {
	var ae *apierr.Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ae):
		return fmt.Sprintf("%d %d", ae.Status, ae.Code)
	}
	return err.Error()
}

func isAPIError(err error) bool {
	var ae *apierr.Error
	return errors.As(err, &ae)
}

func remove(ids []engine.ID, id engine.ID) []engine.ID {
	out := ids[:0:0]
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

func contains(ids []engine.ID, id engine.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
