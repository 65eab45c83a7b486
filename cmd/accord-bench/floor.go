package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// tcp-floor measures what fan-out costs below any server: one payload
// written with write(2) to each of --conns loopback TCP sockets, --rate
// times a second, from one goroutine per CPU, and read on the other side
// by a separate process with edge-triggered epoll, one read(2) per
// readiness, one thread per CPU. No WebSocket, no JSON, no server logic:
// the delivery latency and CPU per delivery it reports are the least a
// gateway could reach on this machine with the same load generator's
// share of the CPUs. Sockets are made with raw system calls on both
// sides, so Go's own poller never sees them.
//
//	accord-bench tcp-floor --conns 10000 --rate 5/s --duration 30s --size 932

// floorResult is what the reading process reports.
type floorResult struct {
	N      int     `json:"n"`
	LatUS  []int32 `json:"lat_us"`
	CPUUS  float64 `json:"cpu_us"`  // user+system while messages came
	UserUS float64 `json:"user_us"` // user part
}

func runTCPFloor(args []string) error {
	fs := flag.NewFlagSet("tcp-floor", flag.ContinueOnError)
	conns := fs.Int("conns", 10000, "sockets")
	size := fs.Int("size", 932, "payload bytes (Accord's MESSAGE_CREATE frame in the gateway benchmark)")
	duration := fs.Duration("duration", 30*time.Second, "how long payloads are sent")
	src := fs.String("src", "127.0.0.2-127.0.0.9", "source addresses the sockets rotate over")
	port := fs.Int("port", 18990, "port the reading process listens on (127.0.0.1)")
	jsonOut := fs.String("json", "", "also write the results to this file as JSON")
	rate := 5.0
	fs.Func("rate", "payloads per second to every socket, e.g. 5/s", func(s string) error {
		v, err := strconv.ParseFloat(strings.TrimSuffix(s, "/s"), 64)
		if err != nil || v <= 0 {
			return fmt.Errorf("bad rate %q", s)
		}
		rate = v
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *size < 8 || *conns < 1 {
		return errors.New("need --size ≥ 8 and --conns ≥ 1")
	}
	ips, err := parseSrc(*src)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	msgs := int(rate * duration.Seconds())
	rd := exec.Command(self, "tcp-floor-reader", "--port", strconv.Itoa(*port), "--conns", strconv.Itoa(*conns),
		"--size", strconv.Itoa(*size))
	rd.Stderr = os.Stderr
	stdin, err := rd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := rd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := rd.Start(); err != nil {
		return err
	}
	defer func() { _ = rd.Process.Kill(); _ = rd.Wait() }()
	lines := bufio.NewScanner(stdout)
	lines.Buffer(nil, 1<<30)
	if !lines.Scan() || lines.Text() != "listening" {
		return fmt.Errorf("reader did not start: %v", lines.Err())
	}

	fds := make([]int, 0, *conns)
	defer func() {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
	}()
	for i := range *conns {
		fd, err := rawDial(ips[i%len(ips)], *port)
		if err != nil {
			return fmt.Errorf("socket %d: %w", i, err)
		}
		fds = append(fds, fd)
	}
	if !lines.Scan() || lines.Text() != "accepted" {
		return fmt.Errorf("reader did not accept every socket: %v", lines.Err())
	}
	fmt.Printf("tcp-floor: %d sockets, %d-byte payload, %g/s for %s, %d writers, reader %d threads\n",
		*conns, *size, rate, *duration, runtime.GOMAXPROCS(0), runtime.GOMAXPROCS(0))

	period := time.Duration(float64(time.Second) / rate)
	payload := make([]byte, *size)
	writers := runtime.GOMAXPROCS(0)
	before := selfCPU()
	var failed int
	var mu sync.Mutex
	next := time.Now()
	for range msgs {
		time.Sleep(time.Until(next))
		next = next.Add(period)
		binary.LittleEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				bad := 0
				for i := w; i < len(fds); i += writers {
					if n, err := unix.Write(fds[i], payload); err != nil || n != len(payload) {
						bad++
					}
				}
				mu.Lock()
				failed += bad
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	sendCPU := selfCPU() - before
	time.Sleep(2 * time.Second) // the last payloads reach the reader
	if _, err := fmt.Fprintln(stdin, "report"); err != nil {
		return err
	}
	if !lines.Scan() {
		return fmt.Errorf("no report from the reader: %v", lines.Err())
	}
	var res floorResult
	if err := json.Unmarshal(lines.Bytes(), &res); err != nil {
		return fmt.Errorf("reader report: %w", err)
	}
	expected := msgs * *conns
	lat := make([]time.Duration, len(res.LatUS))
	for i, us := range res.LatUS {
		lat[i] = time.Duration(us) * time.Microsecond
	}
	slices.Sort(lat)
	out := map[string]any{
		"conns": *conns, "size": *size, "rate": rate, "duration_s": duration.Seconds(),
		"expected": expected, "delivered": res.N, "failed_writes": failed,
		"p50_ms": ms64(percentile(lat, 50)), "p90_ms": ms64(percentile(lat, 90)), "p99_ms": ms64(percentile(lat, 99)),
		"max_ms":                  ms64(percentile(lat, 100)),
		"writer_cpu_us_per_write": float64(sendCPU.Microseconds()) / float64(max(1, msgs**conns)),
		"reader_cpu_us_per_read":  res.CPUUS / float64(max(1, res.N)),
		"reader_user_us_per_read": res.UserUS / float64(max(1, res.N)),
	}
	fmt.Printf("tcp-floor: delivered %d of %d (%d writes failed)\n", res.N, expected, failed)
	fmt.Printf("tcp-floor: delivery latency p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms\n",
		out["p50_ms"], out["p90_ms"], out["p99_ms"], out["max_ms"])
	fmt.Printf("tcp-floor: CPU per delivery: writer %.2f µs, reader %.2f µs (user %.2f)\n",
		out["writer_cpu_us_per_write"], out["reader_cpu_us_per_read"], out["reader_user_us_per_read"])
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(out, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if res.N != expected {
		return fmt.Errorf("%d of %d payloads not delivered", expected-res.N, expected)
	}
	return nil
}

func ms64(d time.Duration) float64 { return float64(d) / 1e6 }

// selfCPU is this process's user+system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rawDial opens a blocking TCP socket from src (nil: any) to 127.0.0.1:port.
func rawDial(src net.IP, port int) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if src4 := src.To4(); src4 != nil {
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte(src4)}); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1) // as Go and gateways do
	if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// runTCPFloorReader is the reading process: it accepts --conns sockets,
// says "accepted", records receive − send for every payload until stdin
// says "report", and answers with a floorResult line.
func runTCPFloorReader(args []string) error {
	fs := flag.NewFlagSet("tcp-floor-reader", flag.ContinueOnError)
	port := fs.Int("port", 18990, "")
	conns := fs.Int("conns", 10000, "")
	size := fs.Int("size", 932, "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	_ = unix.SetsockoptInt(ln, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: *port}); err != nil {
		return fmt.Errorf("listen on 127.0.0.1:%d: %w", *port, err)
	}
	if err := unix.Listen(ln, 4096); err != nil {
		return err
	}
	fmt.Println("listening")
	threads := runtime.GOMAXPROCS(0)
	eps := make([]int, threads)
	for i := range eps {
		if eps[i], err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
			return err
		}
	}
	for i := range *conns {
		fd, _, err := unix.Accept4(ln, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			return fmt.Errorf("accept %d: %w", i, err)
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(fd)}
		if err := unix.EpollCtl(eps[i%threads], unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return err
		}
	}
	unix.Close(ln)
	fmt.Println("accepted")

	var (
		mu   sync.Mutex
		lat  []int32
		stop = make(chan struct{})
		wg   sync.WaitGroup
	)
	before := selfRusage()
	for _, ep := range eps {
		wg.Go(func() {
			runtime.LockOSThread()
			evs := make([]unix.EpollEvent, 256)
			buf := make([]byte, 64<<10)
			var local []int32
			conns := map[int]*floorConn{}
			for {
				select {
				case <-stop:
					mu.Lock()
					lat = append(lat, local...)
					mu.Unlock()
					return
				default:
				}
				k, err := unix.EpollWait(ep, evs, 100)
				if err != nil && !errors.Is(err, unix.EINTR) {
					return
				}
				for _, e := range evs[:max(k, 0)] {
					// Edge-triggered: read until the socket is empty. The
					// sender writes whole payloads; a read may still end
					// inside one, so each socket keeps its byte offset.
					for {
						n, err := unix.Read(int(e.Fd), buf)
						if n <= 0 || err != nil {
							break
						}
						now := time.Now().UnixNano()
						local = floorScan(conns, local, buf[:n], int(e.Fd), *size, now)
					}
				}
			}
		})
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() && in.Text() != "report" {
	}
	close(stop)
	wg.Wait()
	after := selfRusage()
	res := floorResult{N: len(lat), LatUS: lat,
		CPUUS:  float64((after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano()) / 1e3),
		UserUS: float64((after.Utime.Nano() - before.Utime.Nano()) / 1e3)}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// floorConn is a socket's position inside the current payload; each
// socket belongs to one reading thread, which keeps them in a map of its
// own.
type floorConn struct {
	off int     // bytes of the current payload already read
	ts  [8]byte // its timestamp bytes so far
}

// floorScan records a latency for every payload that starts in b.
func floorScan(conns map[int]*floorConn, lat []int32, b []byte, fd, size int, now int64) []int32 {
	c := conns[fd]
	if c == nil {
		c = &floorConn{}
		conns[fd] = c
	}
	for len(b) > 0 {
		if c.off < 8 {
			k := copy(c.ts[c.off:], b)
			c.off += k
			b = b[k:]
			if c.off == 8 {
				sent := int64(binary.LittleEndian.Uint64(c.ts[:]))
				lat = append(lat, int32(min((now-sent)/1e3, 1<<31-1)))
			}
			continue
		}
		k := min(len(b), size-c.off)
		c.off += k
		b = b[k:]
		if c.off == size {
			c.off = 0
		}
	}
	return lat
}

func selfRusage() syscall.Rusage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru
}
