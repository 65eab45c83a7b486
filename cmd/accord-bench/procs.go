package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// fanoutConfig is what the gateway and centrifugo subcommands share: the
// connections, their spread over worker processes and source addresses,
// the phases and where to find the server.
type fanoutConfig struct {
	conns, procs, ramp int
	src                string
	rate               float64
	duration           time.Duration
	idle, drain        time.Duration
	size               int
	serverPID          int
	metricsURL         string
	jsonOut            string
}

func (c *fanoutConfig) flags(fs *flag.FlagSet) {
	fs.IntVar(&c.conns, "conns", 10000, "connections, spread evenly over --procs worker processes")
	fs.IntVar(&c.procs, "procs", 4, "worker processes (each may hold at most ~19,000 connections)")
	fs.IntVar(&c.ramp, "ramp", 500, "connections each worker opens per second")
	fs.StringVar(&c.src, "src", "127.0.0.2-127.0.0.9", "source addresses the connections rotate over")
	fs.Func("rate", "messages sent per second, e.g. 5/s (0: memory phase only)", func(s string) error {
		v, err := strconv.ParseFloat(strings.TrimSuffix(s, "/s"), 64)
		if err != nil || v < 0 {
			return fmt.Errorf("rate %q: want e.g. 5/s", s)
		}
		c.rate = v
		return nil
	})
	c.rate = 5
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "how long messages are sent")
	fs.DurationVar(&c.idle, "idle", 15*time.Second, "wait with every connection idle before measuring memory")
	fs.DurationVar(&c.drain, "drain", 15*time.Second, "longest wait for outstanding deliveries after the last send")
	fs.IntVar(&c.size, "size", 100, "message content length in bytes (timestamp included)")
	fs.IntVar(&c.serverPID, "server-pid", 0, "server process, for memory and CPU (required)")
	fs.StringVar(&c.jsonOut, "json", "", "also write the results to this file as JSON")
}

func (c *fanoutConfig) check() error {
	if c.conns < 1 || c.procs < 1 || c.procs > c.conns || c.ramp < 1 || c.serverPID <= 0 {
		return errors.New("need --conns ≥ --procs ≥ 1, --ramp ≥ 1 and --server-pid")
	}
	if c.rate > 0 && c.duration <= 0 {
		return errors.New("--duration must be positive")
	}
	return nil
}

// target is the server side of a run: how workers reach it and how one
// message is sent.
type target struct {
	name       string
	workerArgs []string                                        // --proto and its flags
	send       func(ctx context.Context, content string) error // one message carrying content
}

// fanoutResult is a run's outcome, printed and written with --json.
type fanoutResult struct {
	Server      string    `json:"server"`
	Conns       int       `json:"conns"`
	Connected   int       `json:"connected"`
	ConnectSecs float64   `json:"connect_secs"`
	Baseline    memSample `json:"baseline"`
	Idle        memSample `json:"idle"`
	IdleRSS     []int64   `json:"idle_rss_mib"`  // every 10 s while idle
	RSSPerConn  float64   `json:"rss_per_conn"`  // bytes
	HeapPerConn float64   `json:"heap_per_conn"` // heap + stacks in use, bytes; 0 without metrics
	Rate        float64   `json:"rate"`
	Sent        int       `json:"sent,omitempty"`
	SendErrors  int       `json:"send_errors,omitempty"`
	Expected    int64     `json:"expected,omitempty"`
	Delivered   int64     `json:"delivered,omitempty"`
	Missing     int64     `json:"missing,omitempty"`    // of acknowledged sends
	Duplicates  int64     `json:"duplicates,omitempty"` // beyond one per connection
	Unacked     int64     `json:"unacked_deliveries,omitempty"`
	ServerUS    float64   `json:"server_us_per_delivery,omitempty"`
	Dropped     int64     `json:"dropped_conns,omitempty"`
	P50         float64   `json:"p50_ms,omitempty"`
	P90         float64   `json:"p90_ms,omitempty"`
	P99         float64   `json:"p99_ms,omitempty"`
	P999        float64   `json:"p999_ms,omitempty"`
	Max         float64   `json:"max_ms,omitempty"`
	PerSec      float64   `json:"deliveries_per_sec,omitempty"`
	FrameBytes  float64   `json:"frame_bytes,omitempty"`
	PostP50     float64   `json:"post_p50_ms,omitempty"`
	PostP99     float64   `json:"post_p99_ms,omitempty"`
	CPU         cpuSplit  `json:"cpu"`
	Busy        cpuSplit  `json:"cpu_before"` // the machine just before connecting
}

// workerProc is a running gateway-worker.
type workerProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan workerMsg
}

func (w *workerProc) tell(cmd string) error { _, err := io.WriteString(w.stdin, cmd+"\n"); return err }

// next waits for the worker's next message of kind ev.
func (w *workerProc) next(ctx context.Context, ev string, timeout time.Duration) (workerMsg, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case m, ok := <-w.lines:
			if !ok {
				return m, fmt.Errorf("worker %d exited", w.cmd.Process.Pid)
			}
			if m.Ev == ev {
				return m, nil
			}
		case <-t.C:
			return workerMsg{}, fmt.Errorf("worker %d: no %q within %s", w.cmd.Process.Pid, ev, timeout)
		case <-ctx.Done():
			return workerMsg{}, ctx.Err()
		}
	}
}

// startWorkers re-executes this binary as --procs gateway-workers, each
// with its share of the connections (and of the token file's lines).
func startWorkers(c *fanoutConfig, t *target) ([]*workerProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var ws []*workerProc
	from := 0
	for p := range c.procs {
		n := c.conns / c.procs
		if p < c.conns%c.procs {
			n++
		}
		args := append([]string{"gateway-worker"}, t.workerArgs...)
		args = append(args, "--from", strconv.Itoa(from), "--count", strconv.Itoa(n), "--src", c.src,
			"--src-offset", strconv.Itoa(from), "--ramp", strconv.Itoa(c.ramp))
		from += n
		cmd := exec.Command(exe, args...)
		cmd.Stderr = os.Stderr
		// The workers die with the coordinator, whatever kills it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		in, err := cmd.StdinPipe()
		if err != nil {
			return ws, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return ws, err
		}
		if err := cmd.Start(); err != nil {
			return ws, err
		}
		w := &workerProc{cmd: cmd, stdin: in, lines: make(chan workerMsg, 16)}
		go func() {
			defer close(w.lines)
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 1<<20), 256<<20) // a report carries every latency
			for sc.Scan() {
				var m workerMsg
				if json.Unmarshal(sc.Bytes(), &m) == nil {
					w.lines <- m
				}
			}
		}()
		ws = append(ws, w)
	}
	return ws, nil
}

// stopWorkers asks every worker to quit and kills those that do not.
func stopWorkers(ws []*workerProc) {
	for _, w := range ws {
		_ = w.tell("quit")
		w.stdin.Close()
	}
	for _, w := range ws {
		done := make(chan struct{})
		go func() { _ = w.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = w.cmd.Process.Kill()
			<-done
		}
	}
}

func pids(ws []*workerProc) []int {
	out := []int{os.Getpid()}
	for _, w := range ws {
		out = append(out, w.cmd.Process.Pid)
	}
	return out
}

// runFanout runs the phases against t: connect, idle memory, then (rate
// > 0) the timed sends and their deliveries.
func runFanout(ctx context.Context, c *fanoutConfig, t *target) (*fanoutResult, error) {
	r := &fanoutResult{Server: t.name, Conns: c.conns, Rate: c.rate}
	var err error
	// How busy the machine was before we started (other people's work).
	b0 := readCPU(c.serverPID, nil)
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		return nil, err
	}
	r.Busy = splitCPU(b0, readCPU(c.serverPID, nil), 2*time.Second)
	if r.Baseline, err = sampleMem(c.serverPID, c.metricsURL); err != nil {
		return nil, fmt.Errorf("baseline memory: %w", err)
	}
	fmt.Printf("%s: baseline RSS %s, heap %s, stacks %s; machine before: %s\n", t.name, mib(r.Baseline.RSS),
		mib(r.Baseline.HeapInuse), mib(r.Baseline.StackInuse), r.Busy)

	start := time.Now()
	ws, err := startWorkers(c, t)
	defer stopWorkers(ws)
	if err != nil {
		return nil, err
	}
	wait := time.Duration(c.conns/c.procs/c.ramp+120) * time.Second
	for _, w := range ws {
		m, err := w.next(ctx, "ready", wait)
		if err != nil {
			return nil, err
		}
		r.Connected += m.OK
		if m.Failed > 0 {
			fmt.Printf("  worker %d: %d connections failed (first: %s)\n", w.cmd.Process.Pid, m.Failed, m.FirstErr)
		}
	}
	r.ConnectSecs = time.Since(start).Seconds()
	fmt.Printf("%s: %d of %d connections ready in %.1f s; idle for %s\n", t.name, r.Connected, c.conns, r.ConnectSecs, c.idle)
	if r.Connected == 0 {
		return r, errors.New("no connection came up")
	}
	// Sample through the idle time: a Go server's RSS after the connect
	// storm still holds garbage until a GC (at the latest the runtime's
	// forced one, every 2 minutes) and the scavenger return it, so the
	// trajectory shows whether --idle was long enough.
	idleEnd := time.Now().Add(c.idle)
	for {
		if r.Idle, err = sampleMem(c.serverPID, c.metricsURL); err != nil {
			return r, fmt.Errorf("idle memory: %w", err)
		}
		r.IdleRSS = append(r.IdleRSS, r.Idle.RSS>>20)
		left := time.Until(idleEnd)
		if left <= 0 {
			break
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(min(left, 10*time.Second)):
		}
	}
	fmt.Printf("%s: RSS every 10 s while idle (MiB): %v\n", t.name, r.IdleRSS)
	r.RSSPerConn = float64(r.Idle.RSS-r.Baseline.RSS) / float64(r.Connected)
	if c.metricsURL != "" {
		r.HeapPerConn = float64(r.Idle.HeapInuse+r.Idle.StackInuse-r.Baseline.HeapInuse-r.Baseline.StackInuse) / float64(r.Connected)
	}
	fmt.Printf("%s: idle RSS %s (Δ %s = %.2f KiB/conn), heap+stacks Δ %.2f KiB/conn, goroutines %d\n", t.name,
		mib(r.Idle.RSS), mib(r.Idle.RSS-r.Baseline.RSS), r.RSSPerConn/1024, r.HeapPerConn/1024, r.Idle.Goroutines)
	if c.rate > 0 {
		if err := sendPhase(ctx, c, t, ws, r); err != nil {
			return r, err
		}
	}
	return r, nil
}

// finish prints nothing more but writes the result file when asked.
func (c *fanoutConfig) finish(r *fanoutResult) error {
	if c.jsonOut == "" || r == nil {
		return nil
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(c.jsonOut, append(raw, '\n'), 0o644)
}
