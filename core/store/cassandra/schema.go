package cassandra

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gocql/gocql"
)

// Schema changes in Cassandra 5.0 are not transactional across nodes: a
// node applies a change, then pushes it to the others, and each node's
// schema version converges. Under load a change can take longer than an
// ordinary request, a node can briefly know a table's definition before its
// storage is ready ("Unknown CF"), and two coordinators creating the same
// table at once give it two identities, which Cassandra never fully
// reconciles. This file is how Accord makes schema work safe anyway:
//
//   - DDL runs on a session of its own with a longer request timeout
//     (Options.SchemaTimeout), not on the data session's 10 s.
//   - Every DDL statement goes to one coordinator for the whole cluster:
//     the up node with the lowest host ID, the same choice in every process
//     that sees the same nodes. That node applies schema changes one at a
//     time, so concurrent CREATE ... IF NOT EXISTS from several processes
//     end in one table rather than two.
//   - Before and after each statement the session waits until every node it
//     knows of, in every datacenter, reports the same schema version.
//   - Each step is retried with backoff while its error is one that schema
//     churn or load explains (timeouts, unavailable or overloaded nodes,
//     "Unknown CF", a table not visible yet), until the context ends; every
//     statement is idempotent, so a retry of a step that did happen is a
//     no-op.

const (
	// defaultSchemaTimeout bounds one schema request. A CREATE on a loaded
	// two-datacenter cluster has been seen to take over 10 s.
	defaultSchemaTimeout = time.Minute
	// schemaBackoffMin and schemaBackoffMax bound the pause between retries.
	schemaBackoffMin = 200 * time.Millisecond
	schemaBackoffMax = 2 * time.Second
	// agreementPoll is how often schema versions are compared.
	agreementPoll = 100 * time.Millisecond
)

// schemaSession is what schema work runs on, every request with the
// schema timeout: ddl, a session pinned to one coordinator for DDL and the
// reads of system tables, and data, a session like the store's (local
// coordinators) for the rows of schema_migrations.
type schemaSession struct {
	ddlSess *gocql.Session
	data    *gocql.Session
	opts    Options
}

// openSchemaSession connects for schema work; keyspace "" gives sessions
// for statements that name their keyspace.
func openSchemaSession(opts Options, keyspace string) (*schemaSession, error) {
	pinned, err := openPinned(opts, keyspace)
	if err != nil {
		return nil, err
	}
	o := opts
	o.Timeout = opts.SchemaTimeout
	data, err := newSession(o, keyspace)
	if err != nil {
		pinned.Close()
		return nil, err
	}
	return &schemaSession{ddlSess: pinned, data: data, opts: opts}, nil
}

// openPinned connects the session whose requests go to the up node with
// the lowest host ID.
func openPinned(opts Options, keyspace string) (*gocql.Session, error) {
	c := gocql.NewCluster(opts.Hosts...)
	c.Keyspace = keyspace
	c.ProtoVersion = 4
	c.Consistency, _ = gocql.ParseConsistencyWrapper(opts.Consistency)
	c.SerialConsistency = gocql.LocalSerial
	c.Timeout = opts.SchemaTimeout
	c.ConnectTimeout = min(opts.SchemaTimeout, 10*time.Second)
	// gocql waits for agreement after each DDL on its own, and logs when it
	// gives up; awaitAgreement below is the wait that counts (it honours
	// the context and reports who disagrees), so gocql's is kept short and
	// its complaint quiet.
	c.MaxWaitSchemaAgreement = time.Second
	c.PoolConfig.HostSelectionPolicy = &lowestHostID{HostSelectionPolicy: gocql.RoundRobinHostPolicy()}
	// Retries are done by retrySchema, which knows which errors to retry.
	c.RetryPolicy = nil
	c.Logger = driverLogger{log: opts.Logger, quiet: []string{"gocql: cluster schema versions not consistent"}}
	sess, err := c.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("cassandra: connect to %s for schema changes: %w", strings.Join(opts.Hosts, ","), err)
	}
	return sess, nil
}

func (s *schemaSession) Close() {
	s.ddlSess.Close()
	s.data.Close()
}

// ddl runs one idempotent schema statement: agreement first, the
// statement, agreement again, retried as a whole.
func (s *schemaSession) ddl(ctx context.Context, what, stmt string) error {
	return s.retry(ctx, what, func() error {
		if err := s.awaitAgreement(ctx); err != nil {
			return err
		}
		// The empty routing key stops the token-aware machinery from
		// preparing the statement to learn its partition key (it has
		// none): Cassandra would keep the prepared DDL in
		// system.prepared_statements and warn about each at every restart.
		if err := s.ddlSess.Query(stmt).RoutingKey([]byte{}).WithContext(ctx).Exec(); err != nil {
			return err
		}
		return s.awaitAgreement(ctx)
	})
}

// retry runs fn until it succeeds, fails with an error that is not
// transient, or ctx ends.
func (s *schemaSession) retry(ctx context.Context, what string, fn func() error) error {
	pause := schemaBackoffMin
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if !transientSchemaErr(err) || ctx.Err() != nil {
			return wrap(err, "%s", what)
		}
		s.opts.Logger.Info("schema step failed; retrying", "step", what, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("cassandra: %s: gave up after %d attempts (%w); last error: %v", what, attempt, ctx.Err(), err)
		case <-time.After(pause):
		}
		pause = min(2*pause, schemaBackoffMax)
	}
}

// disagreementError says the nodes report different schema versions.
type disagreementError struct{ versions map[string][]string }

func (e *disagreementError) Error() string {
	var parts []string
	for _, v := range slices.Sorted(maps.Keys(e.versions)) {
		parts = append(parts, fmt.Sprintf("%s at %s", strings.Join(e.versions[v], ", "), v))
	}
	return "nodes disagree on the schema (schema changes need every node of every datacenter up): " + strings.Join(parts, "; ")
}

// agreementWait bounds one wait for agreement; retry waits again while the
// context allows.
const agreementWait = 30 * time.Second

// awaitAgreement waits until every node in the coordinator's view of the
// cluster (system.local and system.peers, every datacenter, down nodes
// included: a down node cannot agree) reports one schema version.
func (s *schemaSession) awaitAgreement(ctx context.Context) error {
	deadline := time.Now().Add(agreementWait)
	var last map[string][]string
	for {
		versions, err := s.schemaVersions(ctx)
		if err != nil {
			if ctx.Err() != nil && len(last) > 1 {
				return &disagreementError{last}
			}
			return err
		}
		last = versions
		if len(versions) <= 1 {
			return nil
		}
		if time.Now().After(deadline) {
			return &disagreementError{versions}
		}
		select {
		case <-ctx.Done():
			return &disagreementError{versions}
		case <-time.After(agreementPoll):
		}
	}
}

// schemaVersions maps each schema version to the nodes that report it.
func (s *schemaSession) schemaVersions(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	var version gocql.UUID
	var dc string
	var addr string
	if err := s.ddlSess.Query(`SELECT schema_version, data_center, broadcast_address FROM system.local WHERE key = 'local'`).
		WithContext(ctx).Consistency(gocql.One).Scan(&version, &dc, &addr); err != nil {
		return nil, err
	}
	out[version.String()] = append(out[version.String()], addr+" ("+dc+")")
	iter := s.ddlSess.Query(`SELECT peer, data_center, schema_version FROM system.peers`).WithContext(ctx).Consistency(gocql.One).Iter()
	var peer string
	for iter.Scan(&peer, &dc, &version) {
		if version == (gocql.UUID{}) {
			continue // a node still joining has no version yet
		}
		out[version.String()] = append(out[version.String()], peer+" ("+dc+")")
	}
	if err := iter.Close(); err != nil {
		return nil, err
	}
	return out, nil
}

// transientSchemaErr reports whether a schema step that failed with err
// may succeed when tried again.
func transientSchemaErr(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var dis *disagreementError
	if errors.As(err, &dis) {
		return true
	}
	for _, e := range []error{gocql.ErrTimeoutNoResponse, gocql.ErrConnectionClosed, gocql.ErrNoConnections,
		gocql.ErrTooManyTimeouts, gocql.ErrNoStreams} {
		if errors.Is(err, e) {
			return true
		}
	}
	var re gocql.RequestError
	if !errors.As(err, &re) {
		return false
	}
	switch re.Code() {
	case gocql.ErrCodeServer, gocql.ErrCodeUnavailable, gocql.ErrCodeOverloaded, gocql.ErrCodeBootstrapping,
		gocql.ErrCodeWriteTimeout, gocql.ErrCodeReadTimeout, gocql.ErrCodeReadFailure, gocql.ErrCodeWriteFailure,
		gocql.ErrCodeCASWriteUnknown:
		// Server errors include "Unknown CF": a node that knows a new
		// table's definition but has not opened its storage yet.
		return true
	case gocql.ErrCodeInvalid:
		// A node that has not applied a table's creation yet.
		m := re.Message()
		return strings.Contains(m, "does not exist") || strings.Contains(m, "unconfigured table") ||
			strings.Contains(m, "Unknown CF")
	}
	return false
}

// lowestHostID orders a policy's picks by host ID, so every process sends
// schema changes to the same node while it is up, and to the same next one
// when it is not.
type lowestHostID struct {
	gocql.HostSelectionPolicy
}

func (p *lowestHostID) Pick(q gocql.ExecutableQuery) gocql.NextHost {
	next := p.HostSelectionPolicy.Pick(q)
	var hosts []gocql.SelectedHost
	for h := next(); h != nil; h = next() {
		hosts = append(hosts, h)
	}
	slices.SortFunc(hosts, func(a, b gocql.SelectedHost) int {
		return strings.Compare(a.Info().HostID(), b.Info().HostID())
	})
	i := 0
	return func() gocql.SelectedHost {
		if i >= len(hosts) {
			return nil
		}
		i++
		return hosts[i-1]
	}
}
