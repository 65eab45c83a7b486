package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"
)

// maxChannelsPerGuild stays under the engine's 500 channels per guild
// (each guild starts with two).
const maxChannelsPerGuild = 490

type restConfig struct {
	url      string
	clients  int
	duration time.Duration
	warmup   time.Duration
	channels int
	guilds   int
	verify   int
	size     int
	pprof    string
}

// sent is an acknowledged message.
type sent struct {
	channel string
	id      string
}

type restClient struct {
	n     int
	api   *api
	chans []string
	acked []sent
	seq   int
}

func runREST(args []string) error {
	var c restConfig
	fs := flag.NewFlagSet("rest", flag.ContinueOnError)
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "server base URL; several, comma-separated, spread the clients over a region's nodes")
	fs.IntVar(&c.clients, "clients", 64, "concurrent clients, one user and one connection each")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "measured duration")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured load before the measurement")
	fs.IntVar(&c.channels, "channels", 64, "text channels to post into")
	fs.IntVar(&c.guilds, "guilds", 1, "guilds the channels are spread over (every client joins all)")
	fs.IntVar(&c.verify, "verify", 1000, "acknowledged messages to read back afterwards (-1 all, 0 none)")
	fs.IntVar(&c.size, "size", 100, "approximate message content length in bytes")
	fs.StringVar(&c.pprof, "pprof", "", "serve the load generator's pprof on this address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.clients < 1 || c.channels < 1 || c.guilds < 1 || c.guilds > c.channels || c.duration <= 0 {
		return fmt.Errorf("need --clients ≥ 1, --channels ≥ --guilds ≥ 1 and a positive --duration")
	}
	if (c.channels+c.guilds-1)/c.guilds > maxChannelsPerGuild {
		return fmt.Errorf("at most %d channels per guild: raise --guilds", maxChannelsPerGuild)
	}
	servePprof(c.pprof)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	clients, err := setupREST(ctx, c)
	if err != nil {
		return err
	}
	defer func() {
		for _, cl := range clients {
			cl.api.close()
		}
	}()
	if c.warmup > 0 {
		fmt.Printf("warming up for %s\n", c.warmup)
		runLoad(ctx, clients, c, c.warmup)
		for _, cl := range clients {
			cl.acked = cl.acked[:0]
		}
	}
	fmt.Printf("measuring: %d clients, %d channels in %d guild(s), %s\n", c.clients, c.channels, c.guilds, c.duration)
	rec, elapsed := runLoad(ctx, clients, c, c.duration)
	rec.report(os.Stdout, "creates", elapsed)
	if c.verify != 0 {
		return verifyAcked(ctx, clients, c.verify)
	}
	return nil
}

// setupREST registers an owner, the guilds and channels, and one user per
// client joined to every guild through an invite.
func setupREST(ctx context.Context, c restConfig) ([]*restClient, error) {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	urls := strings.Split(c.url, ",")
	for _, u := range urls {
		if err := waitHealthy(wctx, u); err != nil {
			return nil, err
		}
	}
	c.url = urls[0]
	const password = "bench password 1"
	id := runID()
	start := time.Now()
	ownerTok, err := register(ctx, c.url, "b"+id+"_owner", password)
	if err != nil {
		return nil, err
	}
	owner, err := newAPI(c.url, ownerTok, 0)
	if err != nil {
		return nil, err
	}
	defer owner.close()
	var chans, invites []string
	for g := range c.guilds {
		var guild, inv struct {
			ID   string `json:"id"`
			Code string `json:"code"`
		}
		if err := owner.call(ctx, 201, "POST", "/guilds", map[string]any{"name": fmt.Sprintf("bench %s %d", id, g)}, &guild); err != nil {
			return nil, err
		}
		var first string
		for i := g; i < c.channels; i += c.guilds {
			var ch struct {
				ID string `json:"id"`
			}
			body := map[string]any{"name": fmt.Sprintf("bench-%d", i), "type": 0}
			if err := owner.call(ctx, 201, "POST", "/guilds/"+guild.ID+"/channels", body, &ch); err != nil {
				return nil, err
			}
			chans = append(chans, ch.ID)
			if first == "" {
				first = ch.ID
			}
		}
		if err := owner.call(ctx, 200, "POST", "/channels/"+first+"/invites", map[string]any{"max_age": 0}, &inv); err != nil {
			return nil, err
		}
		invites = append(invites, inv.Code)
	}
	clients := make([]*restClient, c.clients)
	// Registration hashes a password with bcrypt: a few at a time.
	err = parallel(c.clients, 4, func(i int) error {
		base := urls[i%len(urls)]
		tok, err := register(ctx, base, fmt.Sprintf("b%s_%d", id, i), password)
		if err != nil {
			return err
		}
		a, err := newAPI(base, tok, i)
		if err != nil {
			return err
		}
		for _, code := range invites {
			if err := a.call(ctx, 200, "POST", "/invites/"+code, nil, nil); err != nil {
				return err
			}
		}
		clients[i] = &restClient{n: i, api: a, chans: chans}
		return nil
	})
	if err != nil {
		return nil, err
	}
	fmt.Printf("setup: %d users, %d guild(s), %d channels in %s\n", c.clients, c.guilds, len(chans), time.Since(start).Round(time.Millisecond))
	return clients, nil
}

// runLoad runs every client for d and returns the merged results and the
// wall time from start until the last client stopped.
func runLoad(ctx context.Context, clients []*restClient, c restConfig, d time.Duration) (*recorder, time.Duration) {
	filler := strings.Repeat("lorem ipsum dolor sit amet ", c.size/27+1)[:max(0, c.size-24)]
	recs := make([]*recorder, len(clients))
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i, cl := range clients {
		recs[i] = newRecorder()
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl.loop(ctx, deadline, recs[i], filler)
		}()
	}
	wg.Wait()
	return merge(recs), time.Since(start)
}

func (cl *restClient) loop(ctx context.Context, deadline time.Time, rec *recorder, filler string) {
	var buf bytes.Buffer
	for ctx.Err() == nil && time.Now().Before(deadline) {
		ch := cl.chans[(cl.n+cl.seq)%len(cl.chans)]
		cl.seq++
		body, _ := json.Marshal(map[string]string{"content": fmt.Sprintf("c%d m%d %s", cl.n, cl.seq, filler)})
		t0 := time.Now()
		status, raw, err := cl.api.doInto(ctx, &buf, "POST", "/channels/"+ch+"/messages", body)
		rec.record(time.Since(t0), status, raw, err)
		if err == nil && status == 200 {
			if id := messageID(raw); id != "" {
				cl.acked = append(cl.acked, sent{channel: ch, id: id})
			} else {
				rec.fail("no id in 200", truncate(raw))
			}
		}
	}
}

// messageID extracts "id" from a rendered message, which the server
// writes first; anything else is decoded properly.
func messageID(raw []byte) string {
	const pre = `{"id":"`
	if bytes.HasPrefix(raw, []byte(pre)) {
		if end := bytes.IndexByte(raw[len(pre):], '"'); end > 0 {
			return string(raw[len(pre) : len(pre)+end])
		}
	}
	var m struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &m)
	return m.ID
}

// verifyAcked reads back n acknowledged messages (all when n < 0 or more
// than were sent) and fails if any is missing or different.
func verifyAcked(ctx context.Context, clients []*restClient, n int) error {
	type item struct {
		sent
		by int
	}
	var all []item
	for i, cl := range clients {
		for _, s := range cl.acked {
			all = append(all, item{s, i})
		}
	}
	if n > 0 && n < len(all) {
		rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		all = all[:n]
	}
	start := time.Now()
	var mu sync.Mutex
	var missing []string
	err := parallel(len(all), min(16, len(clients)), func(i int) error {
		it := all[i]
		status, raw, err := clients[it.by].api.do(ctx, "GET", "/channels/"+it.channel+"/messages/"+it.id, nil)
		if err != nil {
			return err
		}
		if status != 200 || messageID(raw) != it.id {
			mu.Lock()
			missing = append(missing, fmt.Sprintf("%s/%s: %d %s", it.channel, it.id, status, truncate(raw)))
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	fmt.Printf("verify:     %d of the acknowledged messages read back in %s, %d missing\n",
		len(all), time.Since(start).Round(time.Millisecond), len(missing))
	if len(missing) > 0 {
		return fmt.Errorf("acknowledged messages missing, e.g. %s", missing[0])
	}
	return nil
}
