package node

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/accord-chat/accord/internal/config"
	"github.com/accord-chat/accord/raftstore"
)

// addrFile is where a running node writes its internal address, under
// its data directory, so that the operator's commands find it (a node
// alone binds a random port).
const addrFile = "internal.addr"

// Bot is a bot application created by the operator.
type Bot struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Token string `json:"token"`
}

// CreateBot creates a bot application without a user account. It asks a
// running node first, over the internal listener (via, or the address in
// the data directory), with the region's certificates (the configured
// ones, or the data directory's development ones); the node sequences it
// like any write, so every node of the region knows the bot at once. With
// no node running on the data directory it starts the node here, without
// serving, for as long as the write takes: the same write path either way.
func CreateBot(ctx context.Context, cfg config.Config, via, name string, log *slog.Logger) (*Bot, error) {
	if via == "" {
		if b, err := os.ReadFile(filepath.Join(cfg.Data, addrFile)); err == nil {
			via = strings.TrimSpace(string(b))
		}
	}
	if via != "" {
		tlsConf, err := operatorTLS(cfg)
		if err != nil {
			return nil, err
		}
		bot, err := createBotVia(ctx, tlsConf, via, name)
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
			return bot, err
		}
		log.Info("no node answers; creating the bot offline", "via", via)
	}
	n, err := New(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("start the node to create the bot (or pass --via the internal address of a running node): %w", err)
	}
	defer n.Close()
	app, _, tok, err := n.Engine().CreateApplication(ctx, 0, name, "")
	if err != nil {
		return nil, err
	}
	return &Bot{ID: app.ID.String(), Name: app.Name, Token: tok}, nil
}

// operatorTLS is the client side of the internal listener's mutual TLS:
// the configured certificate, or the node's development one.
func operatorTLS(cfg config.Config) (*tls.Config, error) {
	t := cfg.Region.TLS
	if t.CA != "" {
		return raftstore.LoadTLS(t.CA, t.Cert, t.Key)
	}
	dir := filepath.Join(cfg.Data, "tls")
	name := RaftID(cfg.NodeID)
	return raftstore.LoadTLS(filepath.Join(dir, "ca.pem"), filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem"))
}

func createBotVia(ctx context.Context, tlsConf *tls.Config, via, name string) (*Bot, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return raftstore.DialStream(ctx, tlsConf, via, raftstore.KindRequest)
		},
	}}
	defer client.CloseIdleConnections()
	body, _ := json.Marshal(map[string]string{"name": name})
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+via+"/_accord/bots", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ask the node at %s: %w", via, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("the node at %s answered %d: %s", via, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	var bot Bot
	if err := json.Unmarshal(raw, &bot); err != nil {
		return nil, fmt.Errorf("the node at %s answered %q: %w", via, raw, err)
	}
	return &bot, nil
}
