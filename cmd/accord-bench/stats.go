package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"
)

// recorder collects one client's results; clients never share one, and
// merge combines them at the end.
type recorder struct {
	lat    []time.Duration // every request, successful or not
	ok     int
	errors map[string]int // by HTTP status, or "transport"
	// errSample is the first error body or message seen per kind.
	errSample map[string]string
}

func newRecorder() *recorder {
	return &recorder{lat: make([]time.Duration, 0, 1<<14), errors: map[string]int{}, errSample: map[string]string{}}
}

// record notes one request: status 0 with err for transport failures.
func (r *recorder) record(d time.Duration, status int, body []byte, err error) {
	r.lat = append(r.lat, d)
	switch {
	case err != nil:
		r.fail("transport", err.Error())
	case status >= 200 && status < 300:
		r.ok++
	default:
		r.fail(strconv.Itoa(status), truncate(body))
	}
}

func (r *recorder) fail(kind, sample string) {
	r.errors[kind]++
	if _, ok := r.errSample[kind]; !ok {
		r.errSample[kind] = sample
	}
}

func merge(rs []*recorder) *recorder {
	out := newRecorder()
	for _, r := range rs {
		out.lat = append(out.lat, r.lat...)
		out.ok += r.ok
		for k, v := range r.errors {
			out.errors[k] += v
			if _, ok := out.errSample[k]; !ok {
				out.errSample[k] = r.errSample[k]
			}
		}
	}
	return out
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) + " ms" }

// report prints the summary of a run of the given wall time.
func (r *recorder) report(w io.Writer, what string, elapsed time.Duration) {
	slices.Sort(r.lat)
	n := len(r.lat)
	var sum time.Duration
	for _, d := range r.lat {
		sum += d
	}
	mean := time.Duration(0)
	if n > 0 {
		mean = sum / time.Duration(n)
	}
	fmt.Fprintf(w, "requests:   %d in %s (%d ok, %d failed)\n", n, elapsed.Round(time.Millisecond), r.ok, n-r.ok)
	fmt.Fprintf(w, "%-11s %.0f/s (successful)\n", what+":", float64(r.ok)/elapsed.Seconds())
	fmt.Fprintf(w, "latency:    mean %s  p50 %s  p90 %s  p99 %s  p999 %s  max %s\n",
		ms(mean), ms(percentile(r.lat, 50)), ms(percentile(r.lat, 90)), ms(percentile(r.lat, 99)),
		ms(percentile(r.lat, 99.9)), ms(percentile(r.lat, 100)))
	if len(r.errors) == 0 {
		fmt.Fprintln(w, "errors:     none")
		return
	}
	for _, k := range slices.Sorted(maps.Keys(r.errors)) {
		fmt.Fprintf(w, "errors:     %s × %d (first: %s)\n", k, r.errors[k], r.errSample[k])
	}
}
