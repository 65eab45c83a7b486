package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/accord-chat/accord/turn"
)

type turnFlagSet struct {
	fs                                       *flag.FlagSet
	secretFile, udp, tcp, tlsAddr, cert, key *string
	realm, relayIP, relayBind, allow, level  *string
	minPort, maxPort, perUser                *int
	bitrate                                  *int64
}

func turnFlags() turnFlagSet {
	fs := quietFlags("accord turn")
	return turnFlagSet{fs: fs,
		secretFile: fs.String("secret-file", "", "file holding the region's TURN secret, the edge nodes' --turn-secret-file (required)"),
		udp:        fs.String("udp", ":3478", "UDP listen address"),
		tcp:        fs.String("tcp", ":3478", "TCP listen address (empty: none)"),
		tlsAddr:    fs.String("tls", "", "TLS listen address, with --tls-cert and --tls-key (empty: none)"),
		cert:       fs.String("tls-cert", "", "certificate (PEM) for --tls"),
		key:        fs.String("tls-key", "", "its key (PEM)"),
		realm:      fs.String("realm", "accord", "STUN realm"),
		relayIP:    fs.String("relay-ip", "", "public IP clients send relayed media to (required)"),
		relayBind:  fs.String("relay-bind", "", "local IP relays listen on (default: --relay-ip)"),
		minPort:    fs.Int("min-port", 49152, "lowest relay port"),
		maxPort:    fs.Int("max-port", 65535, "highest relay port"),
		allow:      fs.String("allow-peers", "", "comma-separated CIDR ranges relays may reach although not public (the SFUs' addresses)"),
		perUser:    fs.Int("max-allocations-per-user", 5, "concurrent allocations per user"),
		bitrate:    fs.Int64("max-bitrate", 5_000_000, "bits per second per allocation, each way"),
		level:      fs.String("log-level", "info", "debug, info, warn or error"),
	}
}

// turnCommand runs a TURN server alone, for deployments that put TURN
// on machines of its own: it needs only the secret the edge nodes
// issue credentials with.
func turnCommand(args []string) error {
	f := turnFlags()
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	if *f.secretFile == "" || *f.relayIP == "" {
		return errors.New("accord turn needs --secret-file and --relay-ip (accord turn --help)")
	}
	secret, err := os.ReadFile(*f.secretFile)
	if err != nil {
		return err
	}
	cfg := turn.Config{Realm: *f.realm, Secret: []byte(strings.TrimSpace(string(secret))), UDPAddr: *f.udp, TCPAddr: *f.tcp,
		RelayIP: net.ParseIP(*f.relayIP), RelayBind: *f.relayBind, MaxAllocationsPerUser: *f.perUser, MaxBitrate: *f.bitrate}
	if cfg.RelayIP == nil {
		return fmt.Errorf("--relay-ip %q is not an IP address", *f.relayIP)
	}
	if *f.minPort < 1 || *f.maxPort > 65535 || *f.minPort > *f.maxPort {
		return fmt.Errorf("relay ports %d-%d: want 1 ≤ --min-port ≤ --max-port ≤ 65535", *f.minPort, *f.maxPort)
	}
	cfg.MinPort, cfg.MaxPort = uint16(*f.minPort), uint16(*f.maxPort)
	if cfg.AllowPeers, err = parsePrefixes(*f.allow); err != nil {
		return err
	}
	if *f.tlsAddr != "" {
		c, err := tls.LoadX509KeyPair(*f.cert, *f.key)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg.TLSAddr, cfg.TLS = *f.tlsAddr, &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}
	}
	log := newLogger(*f.level)
	s, err := turn.New(cfg, log)
	if err != nil {
		return err
	}
	log.Info("turn serving", "udp", s.UDPAddr(), "tcp", s.TCPAddr(), "tls", s.TLSAddr(), "relay_ip", cfg.RelayIP)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return s.Close()
}

func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			if a, err2 := netip.ParseAddr(s); err2 == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				return nil, fmt.Errorf("--allow-peers: %w", err)
			}
		}
		out = append(out, p)
	}
	return out, nil
}
