package compat

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accord-chat/accord/internal/wait"
)

// readmeBlock is one fenced code block of the README.
type readmeBlock struct{ lang, code string }

// quickstartBlocks returns the code blocks of the README's bot author
// quickstart, in order.
func quickstartBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## Bot author quickstart\n")
	if !ok {
		t.Fatal("README.md has no bot author quickstart")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var out []readmeBlock
	sc := bufio.NewScanner(strings.NewReader(section))
	var cur *readmeBlock
	for sc.Scan() {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &readmeBlock{lang: strings.TrimPrefix(line, "```")}
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.code += line + "\n"
		}
	}
	return out
}

// TestREADMEQuickstart runs the README's bot author quickstart as it is
// written: the shell block makes the account, bot and guild, then the
// discord.js and the discord.py bot each answer a "!ping" with a reply,
// a reaction on it, a pin and an uploaded file.
func TestREADMEQuickstart(t *testing.T) {
	blocks := quickstartBlocks(t)
	code := map[string]string{}
	for _, b := range blocks {
		code[b.lang] = b.code
	}
	for _, lang := range []string{"sh", "js", "python"} {
		if code[lang] == "" {
			t.Fatalf("the quickstart has no %s block (blocks: %v)", lang, blocks)
		}
	}
	jsDir, _ := filepath.Abs("js")
	pyDir, _ := filepath.Abs("py")
	python := filepath.Join(pyDir, ".venv", "bin", "python")
	nodeBin, nodeErr := exec.LookPath("node")
	if _, err := os.Stat(filepath.Join(jsDir, "node_modules", "discord.js", "package.json")); err != nil || nodeErr != nil {
		missing(t, "discord.js or node is not installed (npm ci --prefix tests/compat/js)")
	}
	if _, err := os.Stat(python); err != nil {
		missing(t, "no venv at tests/compat/py/.venv")
	}

	a := startAccord(t)
	// The shell block as written, then a line that hands its results to
	// the test.
	sh := exec.Command("bash", "-c", code["sh"]+"\nprintf '\\n::%s %s %s %s %s\\n' \"$T\" \"$BOT_TOKEN\" \"$APP_ID\" \"$GUILD\" \"$CHANNEL\"\n")
	sh.Env = append(os.Environ(), "ACCORD="+a.url)
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("the quickstart's shell block: %v\n%s", err, out)
	}
	var vals []string
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "::"); ok {
			vals = strings.Fields(rest)
		}
	}
	if len(vals) != 5 || strings.Contains(string(out), "null") {
		t.Fatalf("the quickstart's shell block did not make an account, bot, guild and channel:\n%s", out)
	}
	userToken, botToken, botID, guildID, channelID := vals[0], vals[1], vals[2], vals[3], vals[4]
	var members []map[string]any
	a.api(t, "GET", "/guilds/"+guildID+"/members?limit=10", userToken, nil, 200, &members)
	if len(members) != 2 {
		t.Fatalf("the guild has %d members after the quickstart, want alice and the bot", len(members))
	}
	if !strings.Contains(string(out), "BOT_TOKEN="+botToken+" GUILD="+guildID+" CHANNEL="+channelID) {
		t.Fatalf("the quickstart's last line does not show the token and IDs:\n%s", out)
	}

	// The discord.js block runs beside a link to the installed library.
	jsRun := t.TempDir()
	if err := os.Symlink(filepath.Join(jsDir, "node_modules"), filepath.Join(jsRun, "node_modules")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(jsRun, "bot.mjs"), []byte(code["js"]), 0o644); err != nil {
		t.Fatal(err)
	}
	pyRun := t.TempDir()
	if err := os.WriteFile(filepath.Join(pyRun, "bot.py"), []byte(code["python"]), 0o644); err != nil {
		t.Fatal(err)
	}
	bots := []struct {
		name      string
		dir, bin  string
		args, env []string
	}{
		{"discord.js", jsRun, nodeBin, []string{"bot.mjs"}, nil},
		{"discord.py", pyRun, python, []string{"bot.py"}, []string{"PYTHONUNBUFFERED=1"}},
	}
	for _, bot := range bots {
		t.Run(bot.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			env := append([]string{"ACCORD=" + a.url, "BOT_TOKEN=" + botToken}, bot.env...)
			run := startProcess(t, ctx, env, bot.dir, bot.bin, bot.args...)
			defer cancel() // the bot runs until killed
			wait.For(t, bot.name+" bot to log in", func() bool {
				select {
				case err := <-run.done:
					t.Fatalf("the bot exited (%v):\n%s", err, run.output())
				default:
				}
				return strings.Contains(run.output(), "logged in as")
			})
			// The bot's guild must be ready for its first message: ask as
			// a user would, by saying !ping.
			var ping struct {
				ID string `json:"id"`
			}
			a.api(t, "POST", "/channels/"+channelID+"/messages", userToken, map[string]any{"content": "!ping"}, 200, &ping)
			var reply, file map[string]any
			// Polled 10 times a second: faster would pass the user's global
			// rate limit of 50 requests a second, as it did in CI.
			wait.Every(t, "the bot's reply, reaction, pin and file", 100*time.Millisecond, func() bool {
				var msgs []map[string]any
				a.api(t, "GET", "/channels/"+channelID+"/messages?after="+ping.ID, userToken, nil, 200, &msgs)
				reply, file = nil, nil
				for _, m := range msgs {
					author, _ := m["author"].(map[string]any)
					if author["id"] != botID {
						continue
					}
					ref, _ := m["message_reference"].(map[string]any)
					if m["content"] == "pong" && ref["message_id"] == ping.ID {
						reply = m
					}
					if atts, _ := m["attachments"].([]any); m["content"] == "a file" && len(atts) == 1 {
						file = m
					}
				}
				if reply == nil || file == nil || reply["pinned"] != true {
					return false
				}
				reacts, _ := reply["reactions"].([]any)
				return len(reacts) == 1
			})
			r := reply["reactions"].([]any)[0].(map[string]any)
			if emoji, _ := r["emoji"].(map[string]any); emoji["name"] != "🏓" || r["count"] != 1.0 {
				t.Fatalf("the reply's reaction = %v, want the bot's 🏓", r)
			}
			var pins []map[string]any
			a.api(t, "GET", "/channels/"+channelID+"/pins", userToken, nil, 200, &pins)
			if len(pins) == 0 || pins[0]["id"] != reply["id"] {
				t.Fatalf("pins = %v, want the reply %s first", pins, reply["id"])
			}
			att := file["attachments"].([]any)[0].(map[string]any)
			res, err := http.Get(att["url"].(string))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || att["filename"] != "hello.txt" || string(body) != "hello from MyBot\n" {
				t.Fatalf("the uploaded file %v: %d %q", att, res.StatusCode, body)
			}
			t.Logf("%s: reply %s reacted and pinned, file %s", bot.name, reply["id"], att["url"])
		})
	}
}
