package cassandra

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gocql/gocql"
)

//go:embed migrations/*.cql
var migrationFiles embed.FS

type migration struct {
	version    int
	name       string
	statements []string
}

// loadMigrations parses the embedded files, named NNNN_name.cql, in
// version order.
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.cql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.cql", base)
		}
		data, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(base, ".cql"), statements: splitCQL(string(data))})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s have the same version", out[i-1].name, out[i].name)
		}
	}
	return out, nil
}

// splitCQL drops "--" comment lines and splits at semicolons that end a
// line; the migrations keep to that.
func splitCQL(src string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(src) {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// Migrate creates the keyspace if it is missing (with Options.Replication,
// which it then requires) and applies every embedded schema migration not
// applied yet, then returns. Open does the same, so running it first (the
// `accord migrate` command) is optional; it lets an operator change the
// schema before rolling out servers.
//
// It is safe to run from several processes at once: each version is
// claimed with a lightweight transaction (SERIAL, so across datacenters)
// in schema_migrations and only the claimant runs its statements; the
// others wait until it is marked done. A claim left by a process that
// died is taken over after staleClaim. Every statement is CREATE ... IF
// NOT EXISTS, so a migration cut short is simply run again. Schema changes
// need every node of every datacenter up: Cassandra waits for all of them
// to agree on the schema.
func Migrate(ctx context.Context, opts Options) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	if err := ensureKeyspace(ctx, opts); err != nil {
		return err
	}
	sess, err := newSession(opts, opts.Keyspace)
	if err != nil {
		return err
	}
	defer sess.Close()
	return migrate(ctx, sess, opts)
}

const (
	qKeyspaceExists = `SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?`
	qTableExists    = `SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?`

	qCreateMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version int PRIMARY KEY,
    name text,
    owner text,
    state text,
    claimed_at timestamp,
    applied_at timestamp
)`
	qMigrationStates = `SELECT version, state FROM schema_migrations`
	qMigrationRead   = `SELECT state, owner, claimed_at FROM schema_migrations WHERE version = ?`
	qMigrationClaim  = `INSERT INTO schema_migrations (version, name, owner, state, claimed_at) VALUES (?, ?, ?, 'running', ?) IF NOT EXISTS`
	qMigrationSteal  = `UPDATE schema_migrations SET owner = ?, claimed_at = ? WHERE version = ? IF owner = ? AND state = 'running'`
	qMigrationDone   = `UPDATE schema_migrations SET state = 'done', applied_at = ? WHERE version = ? IF owner = ?`
)

// staleClaim is how long a claim may stay 'running' before another
// process takes it over. Creating a dozen tables takes seconds.
const staleClaim = 2 * time.Minute

// ensureKeyspace creates the keyspace when it does not exist. The check
// comes first so that servers starting together on an existing cluster do
// not issue concurrent schema changes.
func ensureKeyspace(ctx context.Context, opts Options) error {
	sess, err := newSession(opts, "")
	if err != nil {
		return err
	}
	defer sess.Close()
	var name string
	err = sess.Query(qKeyspaceExists, opts.Keyspace).WithContext(ctx).Consistency(gocql.One).Scan(&name)
	if err == nil {
		return nil
	}
	if !errors.Is(err, gocql.ErrNotFound) {
		return wrap(err, "look up keyspace %s", opts.Keyspace)
	}
	if len(opts.Replication) == 0 {
		return fmt.Errorf("cassandra: keyspace %s does not exist and Options.Replication is empty: say how to replicate it", opts.Keyspace)
	}
	opts.Logger.Info("creating keyspace", "keyspace", opts.Keyspace, "replication", replicationCQL(opts.Replication))
	stmt := fmt.Sprintf("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s AND durable_writes = true",
		opts.Keyspace, replicationCQL(opts.Replication))
	if err := schemaQuery(sess, stmt).WithContext(ctx).Exec(); err != nil {
		return wrap(err, "create keyspace %s", opts.Keyspace)
	}
	return wrap(sess.AwaitSchemaAgreement(ctx), "create keyspace %s: schema agreement", opts.Keyspace)
}

// schemaQuery makes the query of a schema statement. The empty routing key
// stops the token-aware policy from preparing the statement to learn its
// partition key (it has none): Cassandra would keep the prepared DDL in
// system.prepared_statements and warn about each at every restart.
func schemaQuery(sess *gocql.Session, stmt string) *gocql.Query {
	return sess.Query(stmt).RoutingKey([]byte{})
}

func migrate(ctx context.Context, sess *gocql.Session, opts Options) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("cassandra: %w", err)
	}
	var name string
	err = sess.Query(qTableExists, opts.Keyspace, "schema_migrations").WithContext(ctx).Consistency(gocql.One).Scan(&name)
	if errors.Is(err, gocql.ErrNotFound) {
		err = schemaQuery(sess, qCreateMigrations).WithContext(ctx).Exec()
		if err == nil {
			err = sess.AwaitSchemaAgreement(ctx)
		}
	}
	if err != nil {
		return wrap(err, "create schema_migrations")
	}

	// The common case, every migration applied, costs one local read and
	// works while another datacenter is down.
	done, err := migrationStates(ctx, sess)
	if err != nil {
		return err
	}
	owner := newOwner()
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		if err := apply(ctx, sess, m, owner, opts); err != nil {
			return err
		}
	}
	return nil
}

// migrationStates reads which migrations are done. A process that found
// schema_migrations created a moment ago by another may ask a node that
// has not applied that schema change yet ("table schema_migrations does
// not exist"): it waits for agreement and asks again, for a while.
func migrationStates(ctx context.Context, sess *gocql.Session) (map[int]bool, error) {
	for attempt := 0; ; attempt++ {
		done := map[int]bool{}
		iter := sess.Query(qMigrationStates).WithContext(ctx).Iter()
		var v int
		var state string
		for iter.Scan(&v, &state) {
			done[v] = state == "done"
		}
		err := iter.Close()
		if err == nil {
			return done, nil
		}
		if attempt >= 40 || !strings.Contains(err.Error(), "does not exist") {
			return nil, wrap(err, "read schema_migrations")
		}
		_ = sess.AwaitSchemaAgreement(ctx)
		select {
		case <-ctx.Done():
			return nil, wrap(ctx.Err(), "read schema_migrations")
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func newOwner() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// apply claims migration m, runs it and marks it done, or waits for the
// process that claimed it.
func apply(ctx context.Context, sess *gocql.Session, m migration, owner string, opts Options) error {
	log := opts.Logger.With("migration", m.name)
	prev := map[string]any{}
	applied, err := sess.Query(qMigrationClaim, m.version, m.name, owner, time.Now()).
		WithContext(ctx).SerialConsistency(gocql.Serial).Idempotent(false).MapScanCAS(prev)
	if err != nil {
		return wrap(err, "claim migration %s", m.name)
	}
	for !applied {
		state, _ := prev["state"].(string)
		if state == "done" {
			return nil
		}
		holder, _ := prev["owner"].(string)
		claimed, _ := prev["claimed_at"].(time.Time)
		if time.Since(claimed) > staleClaim {
			log.Warn("taking over a stale migration claim", "owner", holder, "claimed_at", claimed)
			applied, err = sess.Query(qMigrationSteal, owner, time.Now(), m.version, holder).
				WithContext(ctx).SerialConsistency(gocql.Serial).Idempotent(false).MapScanCAS(map[string]any{})
			if err != nil {
				return wrap(err, "take over migration %s", m.name)
			}
			if applied {
				break
			}
		} else {
			log.Info("waiting for another process to apply the migration", "owner", holder)
			select {
			case <-ctx.Done():
				return fmt.Errorf("cassandra: wait for migration %s by %s: %w", m.name, holder, ctx.Err())
			case <-time.After(500 * time.Millisecond):
			}
		}
		// A SERIAL read sees the outcome of every claim that went before.
		var at time.Time
		err := sess.Query(qMigrationRead, m.version).WithContext(ctx).Consistency(gocql.Consistency(gocql.Serial)).Scan(&state, &holder, &at)
		if err != nil {
			return wrap(err, "read migration %s", m.name)
		}
		prev = map[string]any{"state": state, "owner": holder, "claimed_at": at}
	}

	start := time.Now()
	log.Info("applying migration", "statements", len(m.statements))
	for i, stmt := range m.statements {
		if err := schemaQuery(sess, stmt).WithContext(ctx).Exec(); err != nil {
			return wrap(err, "migration %s, statement %d", m.name, i+1)
		}
	}
	if err := sess.AwaitSchemaAgreement(ctx); err != nil {
		return wrap(err, "migration %s: schema agreement", m.name)
	}
	ok, err := sess.Query(qMigrationDone, time.Now(), m.version, owner).
		WithContext(ctx).SerialConsistency(gocql.Serial).Idempotent(false).MapScanCAS(map[string]any{})
	if err != nil {
		return wrap(err, "mark migration %s done", m.name)
	}
	if !ok {
		// Someone took the claim over, thinking this process dead; the
		// statements are idempotent, so both runs end in the same schema.
		log.Warn("migration claim was taken over while applying it")
	}
	log.Info("applied migration", "duration", time.Since(start).Round(time.Millisecond))
	return nil
}
