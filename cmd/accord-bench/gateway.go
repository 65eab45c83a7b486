package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Gateway intents the benchmark clients identify with: guild events and
// messages with their content. No GUILD_PRESENCES: with it every identify
// would fan a PRESENCE_UPDATE out to every member already connected, and
// connecting 15,000 members would cost O(n²) dispatches.
const benchIntents = 1<<0 | 1<<9 | 1<<15

// runGateway measures Accord's gateway: idle memory per connection and the
// fan-out of MESSAGE_CREATE to every connected member of one guild (made
// by seed-guild). Messages are posted over REST by the first token's user.
func runGateway(args []string) error {
	var c fanoutConfig
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	c.flags(fs)
	base := fs.String("url", "http://127.0.0.1:8080", "server base URL")
	tokensFile := fs.String("tokens", "", "token file from seed-guild (first line: the sender)")
	channel := fs.String("channel", "", "text channel to post in (default: the sender's first guild's first text channel)")
	intents := fs.Int("intents", benchIntents, "IDENTIFY intents")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	tokens, err := readTokens(*tokensFile)
	if err != nil {
		return err
	}
	if len(tokens) < c.conns {
		return fmt.Errorf("%s has %d tokens, fewer than --conns %d", *tokensFile, len(tokens), c.conns)
	}
	*base = strings.TrimRight(*base, "/")
	c.metricsURL = *base + "/metrics"
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := waitHealthy(wctx, *base); err != nil {
		return err
	}
	sender, err := newAPI(*base, tokens[0], 0)
	if err != nil {
		return err
	}
	defer sender.close()
	if *channel == "" {
		if *channel, err = firstTextChannel(ctx, sender); err != nil {
			return err
		}
	}
	// Every connection receives, the sender's own included.
	t := &target{
		name:       "accord",
		workerArgs: []string{"--proto", "accord", "--url", "ws" + strings.TrimPrefix(*base, "http") + "/gateway?v=10&encoding=json", "--tokens", *tokensFile, "--intents", strconv.Itoa(*intents)},
		send:       accordSender(sender, *channel),
	}
	r, err := runFanout(ctx, &c, t)
	if ferr := c.finish(r); err == nil {
		err = ferr
	}
	return err
}

// accordSender posts one message into channel per call. Requests share
// one client; bodies and response buffers are pooled.
func accordSender(a *api, channel string) func(context.Context, string) error {
	var pool sync.Pool
	path := "/channels/" + channel + "/messages"
	return func(ctx context.Context, content string) error {
		buf, _ := pool.Get().(*bytes.Buffer)
		if buf == nil {
			buf = new(bytes.Buffer)
		}
		defer pool.Put(buf)
		body, _ := json.Marshal(map[string]string{"content": content})
		status, raw, err := a.doInto(ctx, buf, "POST", path, body)
		if err != nil {
			return err
		}
		if status != 200 {
			return fmt.Errorf("POST %s: %d %s", path, status, truncate(raw))
		}
		return nil
	}
}

// firstTextChannel finds the first text channel of the user's first
// guild: seed-guild makes exactly one.
func firstTextChannel(ctx context.Context, a *api) (string, error) {
	var guilds []struct {
		ID string `json:"id"`
	}
	if err := a.call(ctx, 200, "GET", "/users/@me/guilds", nil, &guilds); err != nil {
		return "", err
	}
	if len(guilds) == 0 {
		return "", errors.New("the sender is in no guild: seed with seed-guild")
	}
	var chans []struct {
		ID   string `json:"id"`
		Type int    `json:"type"`
	}
	if err := a.call(ctx, 200, "GET", "/guilds/"+guilds[0].ID+"/channels", nil, &chans); err != nil {
		return "", err
	}
	for _, ch := range chans {
		if ch.Type == 0 {
			return ch.ID, nil
		}
	}
	return "", fmt.Errorf("guild %s has no text channel", guilds[0].ID)
}
