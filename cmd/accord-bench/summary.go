package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// runFanoutTable prints the comparison table of a gateway-vs-centrifugo
// run from the --json files of its four runs (a missing file leaves its
// column empty), with the targets of the issue and who came out ahead.
func runFanoutTable(args []string) error {
	fs := flag.NewFlagSet("fanout-table", flag.ContinueOnError)
	am := fs.String("accord-mem", "", "gateway --json of the memory run")
	cm := fs.String("centrifugo-mem", "", "centrifugo --json of the memory run")
	al := fs.String("accord-lat", "", "gateway --json of the latency run")
	cl := fs.String("centrifugo-lat", "", "centrifugo --json of the latency run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Each flag takes a comma-separated list of files (repeated runs);
	// a cell shows the median and, for several runs, the range.
	load := func(paths string) []*fanoutResult {
		var out []*fanoutResult
		for p := range strings.SplitSeq(paths, ",") {
			raw, err := os.ReadFile(strings.TrimSpace(p))
			if err != nil {
				continue
			}
			var r fanoutResult
			if json.Unmarshal(raw, &r) == nil {
				out = append(out, &r)
			}
		}
		return out
	}
	A, C, AL, CL := load(*am), load(*cm), load(*al), load(*cl)
	if len(A)+len(C)+len(AL)+len(CL) == 0 {
		return errors.New("no result file could be read")
	}
	type row struct {
		name   string
		f      func(*fanoutResult) float64
		ra, rc []*fanoutResult
		unit   string
		target string
		better int // -1: smaller is better, 1: larger is better
	}
	kib := func(f func(*fanoutResult) float64) func(*fanoutResult) float64 {
		return func(r *fanoutResult) float64 { return f(r) / 1024 }
	}
	rows := []row{
		{"connections (memory run)", func(r *fanoutResult) float64 { return float64(r.Connected) }, A, C, "", "15,000", 0},
		{"RSS per idle connection", kib(func(r *fanoutResult) float64 { return r.RSSPerConn }), A, C, "KiB", "≤ 10", -1},
		{"Go heap+stacks per idle connection", kib(func(r *fanoutResult) float64 { return r.HeapPerConn }), A, C, "KiB", "", -1},
		{"connections (latency run)", func(r *fanoutResult) float64 { return float64(r.Connected) }, AL, CL, "", "10,000", 0},
		{"delivery p50", func(r *fanoutResult) float64 { return r.P50 }, AL, CL, "ms", "", -1},
		{"delivery p90", func(r *fanoutResult) float64 { return r.P90 }, AL, CL, "ms", "", -1},
		{"delivery p99", func(r *fanoutResult) float64 { return r.P99 }, AL, CL, "ms", "≤ 50", -1},
		{"delivery max", func(r *fanoutResult) float64 { return r.Max }, AL, CL, "ms", "", -1},
		{"deliveries/s", func(r *fanoutResult) float64 { return r.PerSec }, AL, CL, "", "", 1},
		{"missing deliveries", func(r *fanoutResult) float64 { return float64(r.Missing) }, AL, CL, "", "0", -1},
		{"duplicate deliveries", func(r *fanoutResult) float64 { return float64(r.Duplicates) }, AL, CL, "", "0", -1},
		{"deliveries of failed sends", func(r *fanoutResult) float64 { return float64(r.Unacked) }, AL, CL, "", "", 0},
		{"connections dropped", func(r *fanoutResult) float64 { return float64(r.Dropped) }, AL, CL, "", "0", -1},
		{"bytes per delivered frame", func(r *fanoutResult) float64 { return r.FrameBytes }, AL, CL, "", "", 0},
		{"send p50 (POST)", func(r *fanoutResult) float64 { return r.PostP50 }, AL, CL, "ms", "", -1},
		{"server CPU per delivery", func(r *fanoutResult) float64 { return r.ServerUS }, AL, CL, "µs", "", -1},
		{"CPU server % (latency run)", func(r *fanoutResult) float64 { return r.CPU.Server }, AL, CL, "", "", -1},
		{"CPU load generator %", func(r *fanoutResult) float64 { return r.CPU.Loadgen }, AL, CL, "", "", 0},
		{"CPU other %", func(r *fanoutResult) float64 { return r.CPU.Other }, AL, CL, "", "", 0},
		{"CPU idle %", func(r *fanoutResult) float64 { return r.CPU.Idle }, AL, CL, "", "", 0},
	}
	fmt.Printf("runs: memory %d + %d, latency %d + %d (Accord + Centrifugo); cells: median (min–max)\n\n", len(A), len(C), len(AL), len(CL))
	fmt.Println("| | Accord | Centrifugo v6 | target | ahead |")
	fmt.Println("|---|---:|---:|---|---|")
	for _, r := range rows {
		cell := func(xs []*fanoutResult) (string, float64, bool) {
			if len(xs) == 0 {
				return "–", 0, false
			}
			vs := make([]float64, len(xs))
			for i, x := range xs {
				vs[i] = r.f(x)
			}
			slices.Sort(vs)
			med := vs[len(vs)/2]
			if len(vs)%2 == 0 {
				med = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
			}
			prec := 0
			if r.unit == "KiB" || r.unit == "ms" || r.unit == "µs" {
				prec = 1
			}
			out := strconv.FormatFloat(med, 'f', prec, 64)
			if len(vs) > 1 {
				out += " (" + strconv.FormatFloat(vs[0], 'f', prec, 64) + "–" + strconv.FormatFloat(vs[len(vs)-1], 'f', prec, 64) + ")"
			}
			if r.unit != "" {
				out += " " + r.unit
			}
			return out, med, true
		}
		a, av, aok := cell(r.ra)
		c, cv, cok := cell(r.rc)
		if !aok && !cok {
			continue // e.g. a table of throughput runs: no memory rows
		}
		ahead := ""
		if r.better != 0 && aok && cok {
			switch d := (av - cv) * float64(r.better); {
			case d > 0:
				ahead = "Accord"
			case d < 0:
				ahead = "Centrifugo"
			default:
				ahead = "tie"
			}
		}
		fmt.Printf("| %s | %s | %s | %s | %s |\n", r.name, a, c, r.target, ahead)
	}
	return nil
}
