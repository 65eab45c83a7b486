package cassandra

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

// Options configures Open and Migrate.
type Options struct {
	// Hosts are the contact points, "host" or "host:port" (port 9042 by
	// default). The driver discovers the rest of the cluster from them.
	Hosts []string
	// LocalDC is the datacenter of this process. Queries go to its nodes
	// first, and LOCAL_QUORUM counts replicas in it.
	LocalDC string
	// Keyspace holds every table; "accord" when empty.
	Keyspace string
	// Replication maps each datacenter to its replication factor, for
	// creating the keyspace (NetworkTopologyStrategy). It is only used when
	// the keyspace does not exist yet; changing the replication of an
	// existing keyspace is an operator's ALTER KEYSPACE plus a repair.
	Replication map[string]int
	// Consistency of reads and writes, as CQL names it; LOCAL_QUORUM when
	// empty. With it, a datacenter keeps working when another is cut off.
	Consistency string
	// Logger receives the driver's messages; slog.Default() when nil.
	Logger *slog.Logger
	// Timeout bounds each request to the cluster; 10 s when zero.
	Timeout time.Duration
	// SchemaTimeout bounds each schema request (keyspace and table
	// creation, the migration bookkeeping), which waits on every node of
	// every datacenter; one minute when zero. Failed schema steps are
	// retried until Open's or Migrate's context ends (see schema.go).
	SchemaTimeout time.Duration
}

const (
	defaultKeyspace = "accord"
	defaultTimeout  = 10 * time.Second
	// openTimeout bounds Open's schema work: keyspace creation and
	// migrations wait for schema agreement on every node, and are retried
	// while the cluster is busy.
	openTimeout = 5 * time.Minute
)

// CQL identifiers cannot be bound as parameters, so the keyspace and the
// DC names are put into statements and must be plain names.
var (
	keyspaceName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,47}$`)
	dcName       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]*$`)
)

func (o Options) withDefaults() (Options, error) {
	if len(o.Hosts) == 0 {
		return o, errors.New("cassandra: Options.Hosts is empty")
	}
	if o.LocalDC == "" {
		return o, errors.New("cassandra: Options.LocalDC is empty")
	}
	if o.Keyspace == "" {
		o.Keyspace = defaultKeyspace
	}
	if !keyspaceName.MatchString(o.Keyspace) {
		return o, fmt.Errorf("cassandra: keyspace %q is not a valid name", o.Keyspace)
	}
	for dc, rf := range o.Replication {
		if !dcName.MatchString(dc) || rf < 1 {
			return o, fmt.Errorf("cassandra: replication %q: %d is not valid", dc, rf)
		}
	}
	if o.Consistency == "" {
		o.Consistency = "LOCAL_QUORUM"
	}
	if _, err := gocql.ParseConsistencyWrapper(o.Consistency); err != nil {
		return o, fmt.Errorf("cassandra: consistency %q: %w", o.Consistency, err)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Logger = o.Logger.With("component", "cassandra")
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.SchemaTimeout <= 0 {
		o.SchemaTimeout = defaultSchemaTimeout
	}
	return o, nil
}

// Store is the Cassandra backend of store.Store. It is safe for concurrent
// use.
type Store struct {
	sess    *gocql.Session
	log     *slog.Logger
	closed  atomic.Bool
	clock   clock
	markers markerCache
}

var _ store.Store = (*Store)(nil)

// Open connects to the cluster, creates the keyspace if it is missing and
// Options.Replication says how, and applies pending schema migrations (see
// Migrate).
func Open(opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	if err := runSchema(ctx, opts); err != nil {
		return nil, err
	}
	sess, err := newSession(opts, opts.Keyspace)
	if err != nil {
		return nil, err
	}
	return &Store{sess: sess, log: opts.Logger}, nil
}

// newSession connects with the options' policies; keyspace "" gives a
// session for statements that name their keyspace.
func newSession(opts Options, keyspace string) (*gocql.Session, error) {
	c := gocql.NewCluster(opts.Hosts...)
	c.Keyspace = keyspace
	// Protocol v4 is what this driver supports best; Cassandra 5 speaks it.
	c.ProtoVersion = 4
	c.Consistency, _ = gocql.ParseConsistencyWrapper(opts.Consistency)
	// LWTs (only in migrations) name their serial consistency themselves.
	c.SerialConsistency = gocql.LocalSerial
	c.Timeout = opts.Timeout
	c.ConnectTimeout = min(opts.Timeout, 5*time.Second)
	// The data session issues no DDL (schema work has a session of its
	// own, schema.go), so gocql's wait after a schema change never runs.
	// Token-aware routing sends a statement to a replica of its partition,
	// which saves a hop; the DC-aware fallback picks among local nodes.
	// Only local nodes coordinate. The policy alone would send queries to
	// another DC when the local pool is empty, and LOCAL_QUORUM would then
	// count that DC's replicas (or fail, for a keyspace it does not
	// hold); failing over to another DC is the deployment's decision.
	// This is a filter on the picks rather than gocql's HostFilter: with a
	// HostFilter, gocql 1.7 builds its token ring from the local nodes only
	// and panics ("token map different size to token ring") on the schema
	// event of any keyspace of the cluster that has no replica in this DC
	// (apache/cassandra-gocql-driver#1947).
	c.PoolConfig.HostSelectionPolicy = localOnly{
		HostSelectionPolicy: gocql.TokenAwareHostPolicy(gocql.DCAwareRoundRobinPolicy(opts.LocalDC)), dc: opts.LocalDC}
	// Every write carries its own timestamp (see Commit), so replaying one
	// gives the same result: all requests may be retried.
	c.DefaultIdempotence = true
	c.RetryPolicy = &gocql.ExponentialBackoffRetryPolicy{NumRetries: 2, Min: 50 * time.Millisecond, Max: 500 * time.Millisecond}
	c.Logger = driverLogger{log: opts.Logger}
	sess, err := c.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("cassandra: connect to %s (datacenter %s): %w", strings.Join(opts.Hosts, ","), opts.LocalDC, err)
	}
	return sess, nil
}

// Close closes the session. Calls made after Close return store.ErrClosed.
func (s *Store) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		s.sess.Close()
	}
	return nil
}

// check returns the error of a call that must not start: the store is
// closed or the context is done.
func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("cassandra: %w", store.ErrClosed)
	}
	return ctx.Err()
}

// wrap adds what was being done to a driver error and maps the driver's
// sentinels to the store's.
func wrap(err error, what string, args ...any) error {
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf(what, args...)
	switch {
	case errors.Is(err, gocql.ErrNotFound):
		return fmt.Errorf("cassandra: %s: %w", msg, store.ErrNotFound)
	case errors.Is(err, gocql.ErrSessionClosed):
		return fmt.Errorf("cassandra: %s: %w", msg, store.ErrClosed)
	}
	return fmt.Errorf("cassandra: %s: %w", msg, err)
}

// IDs are unsigned but CQL's bigint is signed. Storing them with the top
// bit flipped makes CQL's order the IDs' order, which the clustering
// columns (message, pin and reaction user IDs) need; every ID column uses
// the same encoding so there is one rule.
const signBit = 1 << 63

func sid(id store.ID) int64 { return int64(uint64(id) ^ signBit) }

func fromSID(v int64) store.ID { return store.ID(uint64(v) ^ signBit) }

// bucketOf is the message's ten-day partition (model.Bucket), which fits
// a CQL int for every snowflake.
func bucketOf(id store.ID) int32 { return int32(model.Bucket(id)) }

// clock hands out write timestamps in microseconds that increase strictly
// within the process, even when the wall clock steps back or two commits
// land in the same microsecond. Cassandra resolves every conflict by
// timestamp, so this is what orders this process's writes.
type clock struct{ last atomic.Int64 }

// reserve returns the first of n consecutive unused timestamps.
func (c *clock) reserve(n int) int64 {
	for {
		last := c.last.Load()
		base := max(time.Now().UnixMicro(), last+1)
		if c.last.CompareAndSwap(last, base+int64(n)-1) {
			return base
		}
	}
}

// markerCache remembers the (channel, bucket) pairs whose row in
// channel_buckets this process has written, so a message write is one
// statement rather than two. Rows of channel_buckets are never deleted
// (an empty bucket only costs a query), so an entry never goes stale; the
// cache is cleared when full rather than kept in LRU order, since a miss
// only costs a rewrite of the row.
type markerCache struct {
	mu sync.Mutex
	m  map[marker]struct{}
}

type marker struct {
	channel store.ID
	bucket  int32
}

const maxMarkers = 1 << 16

func (c *markerCache) has(k marker) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[k]
	return ok
}

func (c *markerCache) add(ks []marker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m)+len(ks) > maxMarkers {
		c.m = make(map[marker]struct{}, len(ks))
	}
	for _, k := range ks {
		c.m[k] = struct{}{}
	}
}

// driverLogger routes gocql's messages to slog; messages that start with
// one of quiet go to Debug.
type driverLogger struct {
	log   *slog.Logger
	quiet []string
}

func (l driverLogger) Print(v ...any) { l.out(fmt.Sprint(v...)) }
func (l driverLogger) Printf(format string, v ...any) {
	l.out(fmt.Sprintf(format, v...))
}
func (l driverLogger) Println(v ...any) { l.out(fmt.Sprintln(v...)) }

func (l driverLogger) out(msg string) {
	msg = strings.TrimSpace(msg)
	for _, q := range l.quiet {
		if strings.HasPrefix(msg, q) {
			l.log.Debug(msg)
			return
		}
	}
	l.log.Info(msg)
}

// replicationCQL renders a NetworkTopologyStrategy map in a stable order.
func replicationCQL(r map[string]int) string {
	var b strings.Builder
	b.WriteString("{'class': 'NetworkTopologyStrategy'")
	for _, dc := range slices.Sorted(maps.Keys(r)) {
		fmt.Fprintf(&b, ", '%s': %d", dc, r[dc])
	}
	b.WriteString("}")
	return b.String()
}

// localOnly keeps a policy's picks in one datacenter.
type localOnly struct {
	gocql.HostSelectionPolicy
	dc string
}

func (p localOnly) Pick(q gocql.ExecutableQuery) gocql.NextHost {
	next := p.HostSelectionPolicy.Pick(q)
	return func() gocql.SelectedHost {
		for {
			h := next()
			if h == nil || h.Info().DataCenter() == p.dc {
				return h
			}
		}
	}
}
