//go:build unix

package gateway

import (
	"context"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/engine"
)

// BenchmarkFanout: one MESSAGE_CREATE to every member of a 2,000-member
// guild, all connected over loopback, from the engine's commit until every
// connection has handed its frame to the kernel. Clients drain their
// sockets without decoding. ns/op is per message; ns/delivery the same
// per connection; cpu-ns/delivery the process's CPU time per connection.
// The clients run in this process, so their reads are in both.
func BenchmarkFanout(b *testing.B) {
	const members = 2000
	tokens := make([]int, members)
	for i := range tokens {
		tokens[i] = i
	}
	seed, sg := seedGuild(members-1, "f", tokens[:members-1], nil)
	h := newSeededHarness(b, seed, func(c *Config) { c.HeartbeatInterval = time.Hour })
	gi := IntentGuilds | IntentGuildMessages | IntentMessageContent
	for i := range members {
		tok := sg.owner.token
		if i > 0 {
			tok = sg.tokens[i-1].token
		}
		c := h.dial("")
		c.identify(tok, &gi)
		c.waitFor("GUILD_CREATE")
		go func() { _, _ = io.Copy(io.Discard, c.ws.UnderlyingConn()) }()
	}
	content := strings.Repeat("x", 100)
	ctx := context.Background()
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		if _, err := h.eng.CreateMessage(ctx, sg.owner.ID(), sg.channel, engine.MessageParams{Content: content}); err != nil {
			b.Fatal(err)
		}
		waitDrained(b, h.gw)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*members), "ns/delivery")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*members), "cpu-ns/delivery")
}

// cpuTime is the process's user and system CPU time so far: the clients'
// reads and the kernel's loopback work are in it too.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitDrained waits until no connection has a frame queued or being
// written.
func waitDrained(tb testing.TB, s *Server) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		busy := false
		s.mu.RLock()
		for c := range s.conns {
			c.mu.Lock()
			busy = c.writing || len(c.queue) > 0
			c.mu.Unlock()
			if busy {
				break
			}
		}
		s.mu.RUnlock()
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatal("connections still writing after 10 s")
		}
		time.Sleep(100 * time.Microsecond)
	}
}
