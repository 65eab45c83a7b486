package node

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/accord-chat/accord/internal/config"
)

// The public listener speaks TLS so that Discord's libraries, which dial
// wss:// to the voice endpoint, can join voice. With the operator's
// certificate it speaks TLS only. Without one it answers both plain HTTP
// and TLS on the same port, telling them apart by the first byte, with a
// self-signed development certificate under data/tls (clients that
// should trust it are pointed at data/tls/public.pem); public_url keeps
// saying http:// then, which is what a node alone on loopback serves.

// publicTLS returns the listener's TLS configuration and whether plain
// HTTP is served beside it.
func publicTLS(cfg config.Config) (conf *tls.Config, plainToo bool, err error) {
	if cfg.PublicTLS.Cert != "" {
		pair, err := tls.LoadX509KeyPair(cfg.PublicTLS.Cert, cfg.PublicTLS.Key)
		if err != nil {
			return nil, false, fmt.Errorf("public_tls: %w", err)
		}
		return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, false, nil
	}
	pair, err := devPublicCert(filepath.Join(cfg.Data, "tls"), publicNames(cfg))
	if err != nil {
		return nil, false, err
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, true, nil
}

// publicNames are the names and addresses a client may dial the node by.
func publicNames(cfg config.Config) []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	add := func(h string) {
		if h != "" && !slices.Contains(names, h) && h != "0.0.0.0" && h != "::" {
			names = append(names, h)
		}
	}
	if h, _, err := net.SplitHostPort(cfg.Listen); err == nil {
		add(h)
	}
	if u, err := url.Parse(cfg.PublicURL); err == nil {
		add(u.Hostname())
	}
	for _, ip := range cfg.Voice.PublicIPs {
		add(ip)
	}
	return names
}

// devPublicCert loads dir/public.pem, or makes it (again, when it does
// not cover names): a self-signed certificate that is its own CA, so
// that a client can trust exactly it.
func devPublicCert(dir string, names []string) (tls.Certificate, error) {
	certFile, keyFile := filepath.Join(dir, "public.pem"), filepath.Join(dir, "public-key.pem")
	if pair, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
		if leaf, err := x509.ParseCertificate(pair.Certificate[0]); err == nil && covers(leaf, names) && time.Until(leaf.NotAfter) > 30*24*time.Hour {
			return pair, nil
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("public tls: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "accord development"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(2 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("public tls: %w", err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("public tls: %w", err)
	}
	return tls.LoadX509KeyPair(certFile, keyFile)
}

func covers(c *x509.Certificate, names []string) bool {
	for _, n := range names {
		if c.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

// sniffListener serves TLS and plain connections on one port.
type sniffListener struct {
	net.Listener
	conf *tls.Config
}

func (l sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sniffConn{raw: c, conf: l.conf}, nil
}

// sniffConn decides at its first read whether the client speaks TLS (a
// handshake record starts with 22) and from then on is that. The first
// read happens under the HTTP server's header deadline.
type sniffConn struct {
	raw  net.Conn
	conf *tls.Config
	once sync.Once
	err  error

	mu  sync.Mutex // rw and tls, which Close and TCPConn may read from other goroutines
	rw  net.Conn   // the chosen side
	tls bool
}

func (c *sniffConn) pick() {
	c.once.Do(func() {
		var b [1]byte
		n, err := c.raw.Read(b[:])
		if n == 0 {
			c.err = err
			return
		}
		var rw net.Conn = &prefixConn{Conn: c.raw, first: b[0], has: true}
		isTLS := b[0] == 22
		if isTLS {
			rw = tls.Server(rw, c.conf)
		}
		c.mu.Lock()
		c.rw, c.tls = rw, isTLS
		c.mu.Unlock()
	})
}

// Read and Write come after pick (once.Do orders them after its
// writes), so they read rw without the lock.
func (c *sniffConn) Read(b []byte) (int, error) {
	if c.pick(); c.err != nil {
		return 0, c.err
	}
	return c.rw.Read(b)
}

func (c *sniffConn) Write(b []byte) (int, error) {
	if c.pick(); c.err != nil {
		return 0, c.err
	}
	return c.rw.Write(b)
}

func (c *sniffConn) Close() error {
	c.mu.Lock()
	rw, isTLS := c.rw, c.tls
	c.mu.Unlock()
	if isTLS {
		return rw.Close() // sends close_notify, closes raw
	}
	return c.raw.Close()
}

func (c *sniffConn) LocalAddr() net.Addr                { return c.raw.LocalAddr() }
func (c *sniffConn) RemoteAddr() net.Addr               { return c.raw.RemoteAddr() }
func (c *sniffConn) SetDeadline(t time.Time) error      { return c.raw.SetDeadline(t) }
func (c *sniffConn) SetReadDeadline(t time.Time) error  { return c.raw.SetReadDeadline(t) }
func (c *sniffConn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }

// TCPConn lets the gateway poll the socket itself, which is right only
// when the bytes on it are the WebSocket's: plain, and the sniffed byte
// long read (the HTTP request began with it).
func (c *sniffConn) TCPConn() *net.TCPConn {
	c.mu.Lock()
	rw, isTLS := c.rw, c.tls
	c.mu.Unlock()
	if isTLS || rw == nil || rw.(*prefixConn).has {
		return nil
	}
	if tc, ok := c.raw.(*net.TCPConn); ok {
		return tc
	}
	if w, ok := c.raw.(interface{ TCPConn() *net.TCPConn }); ok {
		return w.TCPConn()
	}
	return nil
}

// prefixConn gives back the byte the sniffer read before the rest.
type prefixConn struct {
	net.Conn
	first byte
	has   bool
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if p.has && len(b) > 0 {
		b[0], p.has = p.first, false
		return 1, nil
	}
	return p.Conn.Read(b)
}
