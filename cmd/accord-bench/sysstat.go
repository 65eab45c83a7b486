package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// memSample is a server's memory at one moment: VmRSS from /proc (what
// the kernel charges the process, the number the targets are about) and,
// when the server exports Prometheus metrics, the Go runtime's own view
// (heap and goroutine stacks in use), which is not blurred by freed pages
// the runtime has not yet returned to the kernel.
type memSample struct {
	RSS        int64 `json:"rss"`
	HeapInuse  int64 `json:"heap_inuse"`
	StackInuse int64 `json:"stack_inuse"`
	Goroutines int64 `json:"goroutines"`
}

// sampleMem reads the process's memory; metricsURL may be empty.
func sampleMem(pid int, metricsURL string) (memSample, error) {
	var m memSample
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	for line := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "123456 kB"
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				m.RSS = kb << 10
			}
		}
	}
	if metricsURL == "" {
		return m, nil
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	res, err := hc.Get(metricsURL)
	if err != nil {
		return m, fmt.Errorf("metrics: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return m, fmt.Errorf("metrics: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_memstats_heap_inuse_bytes":
			m.HeapInuse = int64(f)
		case "go_memstats_stack_inuse_bytes":
			m.StackInuse = int64(f)
		case "go_goroutines":
			m.Goroutines = int64(f)
		}
	}
	return m, sc.Err()
}

func mib(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MiB" }

// cpuSnap is the machine's and some processes' CPU time at one moment,
// in clock ticks.
type cpuSnap struct {
	total, idle int64
	softirq     int64
	server      int64
	loadgen     int64
}

// readCPU reads /proc/stat and /proc/PID/stat for the server and the load
// generator's processes (the coordinator and its workers). Processes that
// have exited count as zero.
func readCPU(server int, loadgen []int) cpuSnap {
	var s cpuSnap
	if raw, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(raw), "\n")
		f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
		for i := 1; i < len(f) && i <= 8; i++ {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			s.total += v
			switch i {
			case 4, 5: // idle, iowait
				s.idle += v
			case 6, 7: // irq, softirq
				s.softirq += v
			}
		}
	}
	s.server = procTicks(server)
	for _, p := range loadgen {
		s.loadgen += procTicks(p)
	}
	return s
}

// procTicks is utime+stime of a process, all threads included.
func procTicks(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may contain spaces: fields start after the last ')'.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}

// cpuSplit is how the machine's CPU was shared between two snapshots, in
// percent of all CPUs: server, load generator, other (other processes and
// kernel threads) and idle. This kernel accounts CPU time by ticks without
// IRQ time accounting, so softirq work (the loopback TCP stack) is charged
// to whichever process it interrupted, usually the server or the load
// generator; Softirq says how much of the total that was.
type cpuSplit struct {
	Server  float64 `json:"server"`
	Loadgen float64 `json:"loadgen"`
	Other   float64 `json:"other"`
	Idle    float64 `json:"idle"`
	Softirq float64 `json:"softirq"`
	Seconds float64 `json:"seconds"`
}

func splitCPU(a, b cpuSnap, d time.Duration) cpuSplit {
	tot := float64(b.total - a.total)
	if tot <= 0 {
		return cpuSplit{}
	}
	pct := func(v int64) float64 { return 100 * float64(v) / tot }
	c := cpuSplit{Server: pct(b.server - a.server), Loadgen: pct(b.loadgen - a.loadgen), Idle: pct(b.idle - a.idle), Softirq: pct(b.softirq - a.softirq), Seconds: d.Seconds()}
	c.Other = max(0, 100-c.Server-c.Loadgen-c.Idle)
	return c
}

func (c cpuSplit) String() string {
	return fmt.Sprintf("%.0f / %.0f / %.0f / %.0f %% (server / loadgen / other / idle; softirq %.0f %% of it; %.0f s sample)",
		c.Server, c.Loadgen, c.Other, c.Idle, c.Softirq, c.Seconds)
}
