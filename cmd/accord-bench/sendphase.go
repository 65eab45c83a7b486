package main

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// sendPhase sends rate×duration messages, open loop (each send on its own
// goroutine, so a slow answer never delays the schedule), then waits for
// the deliveries and collects every latency.
func sendPhase(ctx context.Context, c *fanoutConfig, t *target, ws []*workerProc, r *fanoutResult) error {
	run := runID()
	for _, w := range ws {
		if err := w.tell("start " + run); err != nil {
			return err
		}
	}
	time.Sleep(200 * time.Millisecond) // let every worker see "start"
	// Deliveries go to the connections alive now.
	var alive int64
	for _, w := range ws {
		_ = w.tell("count")
		m, err := w.next(ctx, "count", 10*time.Second)
		if err != nil {
			return err
		}
		alive += m.Alive
	}
	n := int(c.rate * c.duration.Seconds())
	interval := time.Duration(float64(time.Second) / c.rate)
	fmt.Printf("%s: sending %d messages at %.4g/s to %d connections\n", t.name, n, c.rate, alive)

	var cpu cpuSplit
	cpuDone := make(chan struct{})
	go func() {
		// The CPU split over the middle half of the sending.
		defer close(cpuDone)
		if sleepCtx(ctx, c.duration/4) != nil {
			return
		}
		t0 := time.Now()
		a := readCPU(c.serverPID, pids(ws))
		if sleepCtx(ctx, c.duration/2) != nil {
			return
		}
		cpu = splitCPU(a, readCPU(c.serverPID, pids(ws)), time.Since(t0))
	}()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		posts = newRecorder()
		acked = make([]bool, n)
	)
	filler := strings.Repeat("x", max(0, c.size-40))
	first := time.Now()
	next := first
	for seq := range n {
		if sleepCtx(ctx, time.Until(next)) != nil {
			break
		}
		next = next.Add(interval)
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			content := fmt.Sprintf("bench %s %d %d %s", run, seq, t0.UnixNano(), filler)
			err := t.send(ctx, content)
			mu.Lock()
			acked[seq] = err == nil
			if err != nil {
				posts.fail("send", err.Error())
				posts.lat = append(posts.lat, time.Since(t0))
			} else {
				posts.record(time.Since(t0), 200, nil, nil)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	<-cpuDone
	if err := ctx.Err(); err != nil {
		return err
	}
	r.CPU = cpu
	r.Sent, r.SendErrors = posts.ok, len(posts.lat)-posts.ok
	r.Expected = int64(r.Sent) * alive
	// Wait until everything arrived, or the drain time is up.
	deadline := time.Now().Add(c.drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var got int64
		for _, w := range ws {
			_ = w.tell("count")
			if m, err := w.next(ctx, "count", 10*time.Second); err == nil {
				got += m.N
			}
		}
		if got >= r.Expected {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	rec := newRecorder()
	var last int64
	var bytes int64
	seqs := map[int]int64{}
	for _, w := range ws {
		_ = w.tell("report")
		m, err := w.next(ctx, "report", 60*time.Second)
		if err != nil {
			return err
		}
		for _, us := range m.LatUS {
			rec.lat = append(rec.lat, time.Duration(us)*time.Microsecond)
		}
		r.Delivered += m.N
		r.Dropped += m.Closed
		for seq, k := range m.Seqs {
			seqs[seq] += k
		}
		bytes += m.Bytes
		last = max(last, m.LastRecv)
		if m.CloseSample != "" {
			fmt.Printf("  worker %d: %d connections closed (first: %s)\n", w.cmd.Process.Pid, m.Closed, m.CloseSample)
		}
	}
	// A send that failed on the client side (e.g. the connection broke
	// after the server took it) may still have been delivered: such
	// deliveries count apart, not against the missing ones.
	for seq, ok := range acked {
		k := seqs[seq]
		switch {
		case !ok:
			r.Unacked += k
		case k < alive:
			r.Missing += alive - k
		case k > alive:
			r.Duplicates += k - alive
		}
	}
	slices.Sort(rec.lat)
	r.P50, r.P90 = msf(percentile(rec.lat, 50)), msf(percentile(rec.lat, 90))
	r.P99, r.P999, r.Max = msf(percentile(rec.lat, 99)), msf(percentile(rec.lat, 99.9)), msf(percentile(rec.lat, 100))
	if last > first.UnixNano() {
		// From the first send to the last delivery: at a rate the server
		// sustains this is rate × connections; above it, its capacity.
		r.PerSec = float64(r.Delivered) / (float64(last-first.UnixNano()) / 1e9)
	}
	if r.PerSec > 0 {
		// Server CPU time per delivery, from the CPU sample (the middle of
		// the sending) and the delivery rate.
		r.ServerUS = r.CPU.Server / 100 * float64(runtime.NumCPU()) / r.PerSec * 1e6
	}
	if r.Delivered > 0 {
		r.FrameBytes = float64(bytes) / float64(r.Delivered)
	}
	slices.Sort(posts.lat)
	r.PostP50, r.PostP99 = msf(percentile(posts.lat, 50)), msf(percentile(posts.lat, 99))
	fmt.Printf("%s: sent %d (%d failed%s), delivered %d for %d expected: %d missing, %d duplicate, %d of failed sends; %d connections dropped\n",
		t.name, r.Sent, r.SendErrors, firstSample(posts), r.Delivered, r.Expected, r.Missing, r.Duplicates, r.Unacked, r.Dropped)
	fmt.Printf("%s: delivery latency p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f ms\n", t.name, r.P50, r.P90, r.P99, r.P999, r.Max)
	fmt.Printf("%s: %.0f deliveries/s, %.0f bytes per delivered frame, send (POST) p50 %.2f p99 %.2f ms\n", t.name, r.PerSec, r.FrameBytes, r.PostP50, r.PostP99)
	fmt.Printf("%s: CPU %s; server CPU %.1f µs per delivery\n", t.name, r.CPU, r.ServerUS)
	return nil
}

func msf(d time.Duration) float64 { return float64(d) / 1e6 }

func firstSample(r *recorder) string {
	for _, s := range r.errSample {
		return "; first: " + s
	}
	return ""
}

// sleepCtx sleeps for d, or until ctx ends (then it returns its error).
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
