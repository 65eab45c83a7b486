// Package teststore picks the store that end-to-end tests run on, so the
// same REST, gateway and bot tests run on the embedded store and on
// Cassandra.
//
// ACCORD_TEST_STORE=cassandra (with ACCORD_CASSANDRA_HOSTS and
// ACCORD_CASSANDRA_DC, as scripts/test.sh sets them after starting the
// cluster) selects Cassandra; anything else is Pebble in a temporary
// directory. On Cassandra all tests of one process share one fresh
// keyspace: creating a keyspace costs seconds of schema agreement, and the
// tests already keep apart by using distinct users and guilds.
package teststore

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/accord-chat/accord/core/store"
	"github.com/accord-chat/accord/core/store/cassandra"
	"github.com/accord-chat/accord/core/store/pebblestore"
	"github.com/accord-chat/accord/internal/config"
)

// Cassandra reports whether tests were asked to run on Cassandra.
func Cassandra() bool { return os.Getenv("ACCORD_TEST_STORE") == "cassandra" }

var (
	ksOnce sync.Once
	ks     string
)

// keyspace is this process's shared test keyspace (with a random part,
// since test processes of several packages run at the same time).
func keyspace() string {
	ksOnce.Do(func() {
		var b [4]byte
		_, _ = rand.Read(b[:])
		ks = "accord_test_" + hex.EncodeToString(b[:])
	})
	return ks
}

func cassandraOptions(tb testing.TB) cassandra.Options {
	hosts := strings.Split(os.Getenv("ACCORD_CASSANDRA_HOSTS"), ",")
	dc := os.Getenv("ACCORD_CASSANDRA_DC")
	if hosts[0] == "" || dc == "" {
		tb.Fatal("ACCORD_TEST_STORE=cassandra needs ACCORD_CASSANDRA_HOSTS and ACCORD_CASSANDRA_DC (deploy/cassandra/cassandra.sh start prints them)")
	}
	return cassandra.Options{Hosts: hosts, LocalDC: dc, Keyspace: keyspace(), Replication: map[string]int{dc: 1},
		Logger: slog.New(slog.DiscardHandler)}
}

// Open returns a store for one test; dir is a fresh temporary directory
// for the embedded store. The caller closes it.
func Open(tb testing.TB, dir string) store.Store {
	tb.Helper()
	if Cassandra() {
		st, err := cassandra.Open(cassandraOptions(tb))
		if err != nil {
			tb.Fatalf("open cassandra: %v", err)
		}
		return st
	}
	st, err := pebblestore.Open(pebblestore.Options{Dir: filepath.Join(dir, "store"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// Configure points a node configuration at the test store: on Cassandra,
// this process's shared keyspace, so nodes started one after another see
// the data of the ones before (tests use names of their own).
func Configure(tb testing.TB, cfg *config.Config) {
	tb.Helper()
	if !Cassandra() {
		return
	}
	o := cassandraOptions(tb)
	cfg.Store = "cassandra"
	cfg.Cassandra = config.Cassandra{Hosts: o.Hosts, DC: o.LocalDC, Keyspace: o.Keyspace, Replication: o.Replication}
}
