package compat

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/accord-chat/accord/internal/accordtest"
	"github.com/accord-chat/accord/internal/voiceclient"
)

// The voice tests put a bot of each library in a voice channel with the
// user, who is on the project's own WebRTC client (internal/voiceclient)
// and talks: the bot speaks Discord's native UDP voice, so every packet
// crosses from one transport to the other through the SFU. The bot
// plays Opus frames the user's client must receive, and (where the
// library can receive) must receive the user's.

// wantPackets is how many packets make a stream "flowing": a second of
// 20 ms frames and a half.
const wantPackets = 75

// voiceWorld is a world with a voice channel.
type voiceWorld struct {
	*world
	voiceID string
}

func newVoiceWorld(t *testing.T) *voiceWorld {
	t.Helper()
	w := newWorld(t)
	var ch struct {
		ID string `json:"id"`
	}
	w.srv.api(t, "POST", "/guilds/"+w.guildID+"/channels", w.userToken, map[string]any{"name": "Lounge", "type": 2}, 201, &ch)
	return &voiceWorld{world: w, voiceID: ch.ID}
}

// devCA is the file the node's development TLS certificate is in: a bot
// that joins voice dials wss:// and must trust it.
func (w *voiceWorld) devCA() string { return filepath.Join(w.srv.data, "tls", "public.pem") }

// userTalks joins the user to the voice channel with the project's
// client, which sends a loud Opus stream until the test ends.
func (w *voiceWorld) userTalks(t *testing.T) *voiceclient.Client {
	t.Helper()
	gw := accordtest.DialGateway(t, w.srv.url, w.userToken)
	gw.Send(4, map[string]any{"guild_id": w.guildID, "channel_id": w.voiceID, "self_mute": false, "self_deaf": false})
	su := gw.Wait("VOICE_SERVER_UPDATE", nil)
	c, err := voiceclient.Dial(context.Background(), voiceclient.Options{URL: "ws://" + su["endpoint"].(string) + "?v=8",
		ServerID: w.guildID, UserID: w.userID, SessionID: gw.SessionID, Token: su["token"].(string)})
	if err != nil {
		t.Fatalf("the user's voice client: %v", err)
	}
	stop := c.Talk(func() bool { return true })
	t.Cleanup(func() { stop(); c.Close() })
	return c
}

// userHears waits until the user's client received a flowing stream
// from the bot.
func (w *voiceWorld) userHears(t *testing.T, c *voiceclient.Client, bot *botRun) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var exited <-chan error // nil: never ready (an in-process bot)
	out := func() string { return "" }
	if bot != nil {
		exited, out = bot.done, bot.output
	}
	for c.Stream(w.botID).Packets < wantPackets {
		if time.Now().After(deadline) {
			t.Fatalf("the user's client got %d packets from the bot in a minute, want %d\nbot output:\n%s", c.Stream(w.botID).Packets, wantPackets, out())
		}
		select {
		case err := <-exited:
			t.Fatalf("the bot exited (%v) before the user heard it\nbot output:\n%s", err, out())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if s := c.Stream(w.botID); s.Gaps > 2 || s.TSBackwards > 0 {
		t.Fatalf("the bot's stream at the user: %+v", s)
	}
}

// TestDiscordGoVoice: a discordgo v0.29 bot joins with ChannelVoiceJoin
// (legacy xsalsa20_poly1305 mode, the voice gateway without ?v=),
// sends Opus on OpusSend and reads the user's on OpusRecv.
func TestDiscordGoVoice(t *testing.T) {
	w := newVoiceWorld(t)
	user := w.userTalks(t)
	userSSRC := uint32(user.Ready["ssrc"].(float64))

	pointDiscordgoAt(w.srv.url)
	var out lockedBuffer
	discordgo.Logger = func(level, caller int, format string, a ...any) {
		fmt.Fprintf(&out, "[discordgo %d] %s\n", level, fmt.Sprintf(format, a...))
	}
	s, err := discordgo.New("Bot " + w.botToken)
	if err != nil {
		t.Fatal(err)
	}
	s.LogLevel = discordgo.LogInformational
	pem, err := os.ReadFile(w.devCA())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	s.Dialer = &websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: &tls.Config{RootCAs: pool}}
	s.Identify.Intents = discordgo.IntentsGuilds | discordgo.IntentsGuildVoiceStates
	if err := s.Open(); err != nil {
		t.Fatalf("discordgo open: %v\n%s", err, out.String())
	}
	defer s.Close()
	vc, err := s.ChannelVoiceJoin(w.guildID, w.voiceID, false, false)
	if err != nil {
		t.Fatalf("ChannelVoiceJoin: %v\n%s", err, out.String())
	}
	defer vc.Disconnect()

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		_ = vc.Speaking(true)
		for ctx.Err() == nil {
			select {
			case vc.OpusSend <- []byte{0xfc, 0xff, 0xfe}: // discordgo paces sends to 20 ms
			case <-ctx.Done():
			}
		}
	}()
	got := 0
	timeout := time.After(time.Minute)
	for got < wantPackets {
		select {
		case p := <-vc.OpusRecv:
			if p.SSRC == userSSRC && len(p.Opus) == 3 && p.Opus[0] == 0xfc {
				got++
			}
		case <-timeout:
			t.Fatalf("discordgo received %d of the user's packets in a minute, want %d\n%s", got, wantPackets, out.String())
		}
	}
	w.userHears(t, user, nil)
	if t.Failed() || testing.Verbose() {
		t.Logf("discordgo output:\n%s", out.String())
	}
}

// heard waits for the bot to report the user's packets ("HEARD n").
func heard(t *testing.T, bot *botRun) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		bot.mu.Lock()
		n := bot.heard
		bot.mu.Unlock()
		if n >= wantPackets {
			return
		}
		select {
		case err := <-bot.done:
			t.Fatalf("the bot exited (%v) before it heard the user\n%s", err, bot.output())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bot heard %d of the user's packets in a minute, want %d\n%s", n, wantPackets, bot.output())
		}
	}
}

// TestDiscordJSVoice: a discord.js bot with @discordjs/voice 0.19
// (aead_aes256_gcm_rtpsize, DAVE offered and declined) plays Opus and
// receives the user's through connection.receiver.
func TestDiscordJSVoice(t *testing.T) {
	dir, _ := filepath.Abs("js")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@discordjs", "voice", "package.json")); err != nil {
		missing(t, "@discordjs/voice is not installed in tests/compat/js/node_modules (npm ci --prefix tests/compat/js)")
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node is not on PATH")
	}
	w := newVoiceWorld(t)
	user := w.userTalks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bot := startProcess(t, ctx, []string{"ACCORD_URL=" + w.srv.url, "BOT_TOKEN=" + w.botToken, "GUILD_ID=" + w.guildID,
		"VOICE_ID=" + w.voiceID, "USER_ID=" + w.userID, "NODE_EXTRA_CA_CERTS=" + w.devCA()}, dir, nodeBin, "voice.mjs")
	heard(t, bot)
	w.userHears(t, user, bot)
}

// TestDiscordPyVoice: a discord.py bot (aead_xchacha20_poly1305_rtpsize
// through PyNaCl) plays Opus from an AudioSource that is already Opus.
// discord.py does not receive voice, so only the user listens.
func TestDiscordPyVoice(t *testing.T) {
	dir, _ := filepath.Abs("py")
	python := filepath.Join(dir, ".venv", "bin", "python")
	if _, err := os.Stat(python); err != nil {
		missing(t, "no venv at tests/compat/py/.venv (python3 -m venv tests/compat/py/.venv && tests/compat/py/.venv/bin/pip install -r tests/compat/py/requirements.txt)")
	}
	if err := exec.Command(python, "-c", "import discord, nacl").Run(); err != nil {
		missing(t, "discord.py with PyNaCl is not installed in tests/compat/py/.venv ("+err.Error()+")")
	}
	w := newVoiceWorld(t)
	user := w.userTalks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bot := startProcess(t, ctx, []string{"ACCORD_URL=" + w.srv.url, "BOT_TOKEN=" + w.botToken, "GUILD_ID=" + w.guildID,
		"VOICE_ID=" + w.voiceID, "SSL_CERT_FILE=" + w.devCA(), "PYTHONUNBUFFERED=1"}, dir, python, "voice.py")
	w.userHears(t, user, bot)
}
