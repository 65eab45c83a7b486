package compat

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

// pointDiscordgoAt points every endpoint variable of discordgo at base
// ("http://host:port"). discordgo computes its string endpoints once, at
// init, from EndpointDiscord and EndpointAPI, so each derived one is
// recomputed here exactly as endpoints.go derives it; the func endpoints
// read these variables when called. The CDN ones point at Accord too
// (attachments are served at /attachments/).
func pointDiscordgoAt(base string) {
	base = strings.TrimRight(base, "/") + "/"
	discordgo.EndpointDiscord = base
	discordgo.EndpointAPI = discordgo.EndpointDiscord + "api/v" + discordgo.APIVersion + "/"
	discordgo.EndpointGuilds = discordgo.EndpointAPI + "guilds/"
	discordgo.EndpointChannels = discordgo.EndpointAPI + "channels/"
	discordgo.EndpointUsers = discordgo.EndpointAPI + "users/"
	discordgo.EndpointGateway = discordgo.EndpointAPI + "gateway"
	discordgo.EndpointGatewayBot = discordgo.EndpointGateway + "/bot"
	discordgo.EndpointWebhooks = discordgo.EndpointAPI + "webhooks/"
	discordgo.EndpointStickers = discordgo.EndpointAPI + "stickers/"
	discordgo.EndpointStageInstances = discordgo.EndpointAPI + "stage-instances"
	discordgo.EndpointSKUs = discordgo.EndpointAPI + "skus"

	discordgo.EndpointCDN = base
	discordgo.EndpointCDNAttachments = discordgo.EndpointCDN + "attachments/"
	discordgo.EndpointCDNAvatars = discordgo.EndpointCDN + "avatars/"
	discordgo.EndpointCDNIcons = discordgo.EndpointCDN + "icons/"
	discordgo.EndpointCDNSplashes = discordgo.EndpointCDN + "splashes/"
	discordgo.EndpointCDNChannelIcons = discordgo.EndpointCDN + "channel-icons/"
	discordgo.EndpointCDNBanners = discordgo.EndpointCDN + "banners/"
	discordgo.EndpointCDNGuilds = discordgo.EndpointCDN + "guilds/"
	discordgo.EndpointCDNRoleIcons = discordgo.EndpointCDN + "role-icons/"

	discordgo.EndpointVoice = discordgo.EndpointAPI + "/voice/"
	discordgo.EndpointVoiceRegions = discordgo.EndpointVoice + "regions"
	discordgo.EndpointNitroStickersPacks = discordgo.EndpointAPI + "/sticker-packs"
	discordgo.EndpointGuildCreate = discordgo.EndpointAPI + "guilds"
	discordgo.EndpointApplications = discordgo.EndpointAPI + "applications"
	discordgo.EndpointOAuth2 = discordgo.EndpointAPI + "oauth2/"
	discordgo.EndpointOAuth2Applications = discordgo.EndpointOAuth2 + "applications"
	discordgo.EndpointOauth2 = discordgo.EndpointOAuth2
	discordgo.EndpointOauth2Applications = discordgo.EndpointOAuth2Applications
}

// TestDiscordGo runs a discordgo bot in-process: the same scenario as the
// discord.js and discord.py bots.
func TestDiscordGo(t *testing.T) {
	runScenario(t, func(ctx context.Context, w *world, content string) *botRun {
		return startDiscordgoBot(t, ctx, w, content)
	})
}

// startDiscordgoBot logs a discordgo session in, signals READY once the
// guild arrived, then answers the user's message and ends.
func startDiscordgoBot(t *testing.T, ctx context.Context, w *world, content string) *botRun {
	t.Helper()
	b := newBotRun()
	out := &lockedBuffer{}
	b.output = out.String
	logf := func(format string, args ...any) {
		fmt.Fprintf(out, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
	}

	pointDiscordgoAt(w.srv.url)
	discordgo.Logger = func(level, caller int, format string, a ...any) {
		logf("[discordgo %d] %s", level, fmt.Sprintf(format, a...))
	}
	s, err := discordgo.New("Bot " + w.botToken)
	if err != nil {
		t.Fatal(err)
	}
	s.LogLevel = discordgo.LogWarning
	s.ShouldReconnectOnError = false
	s.Identify.Intents = discordgo.IntentsGuilds | discordgo.IntentsGuildMessages |
		discordgo.IntentsGuildMessageReactions | discordgo.IntentMessageContent

	var once sync.Once
	finish := func(err error) {
		once.Do(func() {
			if err != nil {
				logf("error: %v", err)
			}
			b.done <- err
		})
	}
	var readyOnce sync.Once
	s.AddHandler(func(s *discordgo.Session, r *discordgo.Ready) {
		logf("ready: user %s (%s), %d guild(s), session %s", r.User.Username, r.User.ID, len(r.Guilds), r.SessionID)
		if r.User.ID != w.botID || !r.User.Bot {
			finish(fmt.Errorf("READY user = %+v, want bot %s", r.User, w.botID))
		}
	})
	s.AddHandler(func(s *discordgo.Session, g *discordgo.GuildCreate) {
		logf("guild create: %s %q, %d channel(s)", g.ID, g.Name, len(g.Channels))
		if g.ID != w.guildID {
			return
		}
		if g.Name != w.guildName {
			finish(fmt.Errorf("guild name %q, want %q", g.Name, w.guildName))
			return
		}
		// The state cache must know the guild and its channel.
		if _, err := s.State.Channel(w.channelID); err != nil {
			finish(fmt.Errorf("state has no channel %s: %v", w.channelID, err))
			return
		}
		readyOnce.Do(func() { b.line("READY") })
	})
	s.AddHandler(func(s *discordgo.Session, m *discordgo.MessageCreate) {
		if m.Author == nil || m.Author.ID != w.userID || m.ChannelID != w.channelID {
			return
		}
		finish(answer(s, m, w.guildID, content, logf, b))
	})

	if err := s.Open(); err != nil {
		logf("open: %v", err)
		finish(fmt.Errorf("open: %w", err))
		return b
	}
	t.Cleanup(func() { _ = s.Close() })
	go func() {
		<-ctx.Done()
		finish(ctx.Err())
	}()
	return b
}

// answer is the bot's reaction to the user's message: reply, edit the
// reply, react to the message, delete the reply.
func answer(s *discordgo.Session, m *discordgo.MessageCreate, guildID, content string, logf func(string, ...any), b *botRun) error {
	logf("message from user: %s %q", m.ID, m.Content)
	if m.Content != content {
		return fmt.Errorf("message content %q, want %q (MESSAGE_CONTENT intent)", m.Content, content)
	}
	if m.GuildID != guildID {
		return fmt.Errorf("message guild_id %q, want %q", m.GuildID, guildID)
	}
	reply, err := s.ChannelMessageSendReply(m.ChannelID, "pong from discordgo", m.Reference())
	if err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	if reply.MessageReference == nil || reply.MessageReference.MessageID != m.ID {
		return fmt.Errorf("reply's message_reference = %+v, want message %s", reply.MessageReference, m.ID)
	}
	b.line("REPLY " + reply.ID)
	logf("replied: %s", reply.ID)
	edited, err := s.ChannelMessageEdit(m.ChannelID, reply.ID, "pong from discordgo (edited)")
	if err != nil {
		return fmt.Errorf("edit: %w", err)
	}
	if edited.Content != "pong from discordgo (edited)" || edited.EditedTimestamp == nil {
		return fmt.Errorf("edited message: content %q, edited_timestamp %v", edited.Content, edited.EditedTimestamp)
	}
	if err := s.MessageReactionAdd(m.ChannelID, m.ID, replyEmoji); err != nil {
		return fmt.Errorf("react: %w", err)
	}
	if err := s.ChannelMessageDelete(m.ChannelID, reply.ID); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	logf("reacted and deleted the reply at %s", time.Now().Format(time.RFC3339Nano))
	return nil
}
