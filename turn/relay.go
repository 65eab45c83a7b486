package turn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"golang.org/x/time/rate"
)

// relayGen makes the UDP sockets of allocations, each behind the
// bandwidth cap. TCP relays (RFC 6062) are not offered: WebRTC peers
// relay over UDP even when they reach the server over TCP or TLS.
type relayGen struct {
	bind     string
	ip       net.IP
	min, max uint16
	bitrate  int64
	m        *metrics
}

func (g *relayGen) Validate() error {
	if g.ip == nil || g.bind == "" {
		return errors.New("turn: no relay address")
	}
	return nil
}

func (g *relayGen) AllocatePacketConn(network string, requested int) (net.PacketConn, net.Addr, error) {
	listen := func(port int) (net.PacketConn, net.Addr, error) {
		c, err := net.ListenPacket(network, net.JoinHostPort(g.bind, strconv.Itoa(port)))
		if err != nil {
			return nil, nil, err
		}
		a := *c.LocalAddr().(*net.UDPAddr)
		a.IP = g.ip
		return g.capped(c), &a, nil
	}
	if requested != 0 || g.min == 0 {
		return listen(requested)
	}
	var err error
	for range 16 {
		var c net.PacketConn
		var a net.Addr
		if c, a, err = listen(int(g.min) + rand.IntN(int(g.max)-int(g.min)+1)); err == nil {
			return c, a, nil
		}
	}
	return nil, nil, fmt.Errorf("turn: no free relay port in %d-%d: %w", g.min, g.max, err)
}

func (g *relayGen) AllocateConn(string, int) (net.Conn, net.Addr, error) {
	return nil, nil, errors.New("turn: TCP relays are not offered")
}

func (g *relayGen) capped(c net.PacketConn) net.PacketConn {
	bytesPerSec := float64(g.bitrate) / 8
	burst := int(bytesPerSec / 4) // a quarter second of traffic
	if burst < 64<<10 {
		burst = 64 << 10
	}
	return &cappedConn{PacketConn: c, in: rate.NewLimiter(rate.Limit(bytesPerSec), burst), out: rate.NewLimiter(rate.Limit(bytesPerSec), burst), m: g.m}
}

// cappedConn drops relayed datagrams beyond the allocation's bitrate,
// each way, as a congested link would: the media stack sees loss and
// backs off, and one allocation cannot take the server's bandwidth.
type cappedConn struct {
	net.PacketConn
	in, out *rate.Limiter
	m       *metrics
}

func (c *cappedConn) WriteTo(p []byte, to net.Addr) (int, error) {
	if !c.out.AllowN(time.Now(), len(p)) {
		c.m.dropped.Inc()
		return len(p), nil
	}
	c.m.relayed.Add(float64(len(p)))
	return c.PacketConn.WriteTo(p, to)
}

func (c *cappedConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, from, err := c.PacketConn.ReadFrom(p)
		if err != nil || c.in.AllowN(time.Now(), n) {
			if err == nil {
				c.m.relayed.Add(float64(n))
			}
			return n, from, err
		}
		c.m.dropped.Inc()
	}
}
