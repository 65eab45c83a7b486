package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"time"
)

func runHistory(args []string) error {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8080", "server base URL")
	token := fs.String("token", "", "token of a member of the channels' guild (seed prints one)")
	chansFile := fs.String("channels-file", "", "file of channel IDs, one a line (seed writes one)")
	clients := fs.Int("clients", 16, "concurrent clients")
	duration := fs.Duration("duration", 15*time.Second, "measured duration")
	warmup := fs.Duration("warmup", 2*time.Second, "unmeasured load before the measurement")
	limit := fs.Int("limit", 50, "messages per page (1–100)")
	check := fs.Bool("check", false, "decode every page and check its size and order (costs client CPU)")
	pprof := fs.String("pprof", "", "serve the load generator's pprof on this address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *token == "" || *chansFile == "" || *clients < 1 || *limit < 1 || *limit > 100 {
		return errors.New("need --token, --channels-file, --clients ≥ 1 and --limit 1–100")
	}
	raw, err := os.ReadFile(*chansFile)
	if err != nil {
		return err
	}
	chans := strings.Fields(string(raw))
	if len(chans) == 0 {
		return fmt.Errorf("%s lists no channels", *chansFile)
	}
	servePprof(*pprof)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := waitHealthy(wctx, *url); err != nil {
		return err
	}
	apis := make([]*api, *clients)
	for i := range apis {
		if apis[i], err = newAPI(*url, *token, i); err != nil {
			return err
		}
		defer apis[i].close()
	}
	// One page first, so a wrong token or channel fails loudly.
	var page []json.RawMessage
	if err := apis[0].call(ctx, 200, "GET", "/channels/"+chans[0]+"/messages?limit="+strconv.Itoa(*limit), nil, &page); err != nil {
		return err
	}
	if len(page) == 0 {
		fmt.Fprintf(os.Stderr, "warning: channel %s has no messages\n", chans[0])
	}
	run := func(d time.Duration) (*recorder, time.Duration) {
		recs := make([]*recorder, len(apis))
		start := time.Now()
		deadline := start.Add(d)
		var wg sync.WaitGroup
		for i, a := range apis {
			recs[i] = newRecorder()
			wg.Add(1)
			go func() {
				defer wg.Done()
				historyLoop(ctx, a, chans, *limit, *check, deadline, recs[i], uint64(i))
			}()
		}
		wg.Wait()
		return merge(recs), time.Since(start)
	}
	if *warmup > 0 {
		fmt.Printf("warming up for %s\n", *warmup)
		run(*warmup)
	}
	fmt.Printf("measuring: %d clients, latest %d of %d channels, %s\n", *clients, *limit, len(chans), *duration)
	rec, elapsed := run(*duration)
	rec.report(os.Stdout, "reads", elapsed)
	return nil
}

func historyLoop(ctx context.Context, a *api, chans []string, limit int, check bool, deadline time.Time, rec *recorder, seed uint64) {
	r := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
	q := "/messages?limit=" + strconv.Itoa(limit)
	var buf bytes.Buffer
	for ctx.Err() == nil && time.Now().Before(deadline) {
		ch := chans[r.IntN(len(chans))]
		t0 := time.Now()
		status, raw, err := a.doInto(ctx, &buf, "GET", "/channels/"+ch+q, nil)
		rec.record(time.Since(t0), status, raw, err)
		if check && err == nil && status == 200 {
			if msg := checkPage(raw, limit); msg != "" {
				rec.fail("bad page", ch+": "+msg)
			}
		}
	}
}

// checkPage checks that a page is full and newest first.
func checkPage(raw []byte, limit int) string {
	var page []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return err.Error()
	}
	if len(page) != limit {
		return fmt.Sprintf("%d messages, want %d", len(page), limit)
	}
	var last uint64
	for i, m := range page {
		id, err := strconv.ParseUint(m.ID, 10, 64)
		if err != nil || (i > 0 && id >= last) {
			return fmt.Sprintf("message %d (%s) out of order", i, m.ID)
		}
		last = id
	}
	return ""
}
