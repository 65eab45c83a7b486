package cassandra

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
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
// It is safe to run from several processes at once, in any datacenter:
// each version is claimed with a lightweight transaction (SERIAL, so
// across datacenters) in schema_migrations and only the claimant runs its
// statements, renewing its claim after each one; the others wait until it
// is marked done. A claim that has not been renewed for staleClaim (its
// process died) is taken over. Every statement is CREATE ... IF NOT
// EXISTS, sent to one coordinator for the whole cluster (see schema.go),
// so a migration cut short, or run twice after a takeover, ends in the
// same schema. Schema changes need every node of every datacenter up:
// each waits for all of them to agree.
func Migrate(ctx context.Context, opts Options) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	return runSchema(ctx, opts)
}

// runSchema is Migrate with defaulted options.
func runSchema(ctx context.Context, opts Options) error {
	if err := ensureKeyspace(ctx, opts); err != nil {
		return err
	}
	ss, err := openSchemaSession(opts, opts.Keyspace)
	if err != nil {
		return err
	}
	defer ss.Close()
	return migrate(ctx, ss)
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
	qMigrationRenew  = `UPDATE schema_migrations SET claimed_at = ? WHERE version = ? IF owner = ? AND state = 'running'`
	qMigrationDone   = `UPDATE schema_migrations SET state = 'done', applied_at = ? WHERE version = ? IF owner = ?`
)

// staleClaim is how long a claim may go unrenewed before another process
// takes it over. The claimant renews after every statement, and one
// statement is bounded by the schema timeout and a wait for agreement.
var staleClaim = 3 * time.Minute

// ensureKeyspace creates the keyspace when it does not exist. The check
// comes first so that servers starting together on an existing cluster do
// not issue concurrent schema changes.
func ensureKeyspace(ctx context.Context, opts Options) error {
	ss, err := openSchemaSession(opts, "")
	if err != nil {
		return err
	}
	defer ss.Close()
	var name string
	err = ss.retry(ctx, "look up keyspace "+opts.Keyspace, func() error {
		err := ss.ddlSess.Query(qKeyspaceExists, opts.Keyspace).WithContext(ctx).Consistency(gocql.One).Scan(&name)
		if errors.Is(err, gocql.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil || name != "" {
		return err
	}
	if len(opts.Replication) == 0 {
		return fmt.Errorf("cassandra: keyspace %s does not exist and Options.Replication is empty: say how to replicate it", opts.Keyspace)
	}
	opts.Logger.Info("creating keyspace", "keyspace", opts.Keyspace, "replication", replicationCQL(opts.Replication))
	stmt := fmt.Sprintf("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s AND durable_writes = true",
		opts.Keyspace, replicationCQL(opts.Replication))
	return ss.ddl(ctx, "create keyspace "+opts.Keyspace, stmt)
}

func migrate(ctx context.Context, ss *schemaSession) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("cassandra: %w", err)
	}
	var name string
	err = ss.retry(ctx, "look up schema_migrations", func() error {
		err := ss.ddlSess.Query(qTableExists, ss.opts.Keyspace, "schema_migrations").WithContext(ctx).Consistency(gocql.One).Scan(&name)
		if errors.Is(err, gocql.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	if name == "" {
		if err := ss.ddl(ctx, "create schema_migrations", qCreateMigrations); err != nil {
			return err
		}
	}

	// The common case, every migration applied, costs one local read and
	// works while another datacenter is down.
	var done map[int]bool
	err = ss.retry(ctx, "read schema_migrations", func() error {
		var err error
		done, err = migrationStates(ctx, ss.data)
		return err
	})
	if err != nil {
		return err
	}
	owner := newOwner()
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		if err := apply(ctx, ss, m, owner); err != nil {
			return err
		}
	}
	return nil
}

// migrationStates reads which migrations are done.
func migrationStates(ctx context.Context, sess *gocql.Session) (map[int]bool, error) {
	done := map[int]bool{}
	iter := sess.Query(qMigrationStates).WithContext(ctx).Iter()
	var v int
	var state string
	for iter.Scan(&v, &state) {
		done[v] = state == "done"
	}
	return done, iter.Close()
}

func newOwner() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// claim is a migration's row in schema_migrations.
type claim struct {
	exists    bool
	state     string
	owner     string
	claimedAt time.Time
}

// apply brings migration m to done: it claims m, runs it and marks it
// done, or waits for the process that holds the claim. Each turn starts
// from a SERIAL read, which sees the outcome of every transaction before
// it, so a transaction whose answer was lost (a timeout) is judged by
// what it did rather than by its answer.
func apply(ctx context.Context, ss *schemaSession, m migration, owner string) error {
	log := ss.opts.Logger.With("migration", m.name)
	cas := func(what, stmt string, args ...any) error {
		return ss.retry(ctx, what+" "+m.name, func() error {
			_, err := ss.data.Query(stmt, args...).WithContext(ctx).SerialConsistency(gocql.Serial).
				Idempotent(false).MapScanCAS(map[string]any{})
			return err
		})
	}
	waiting := false
	for {
		var c claim
		err := ss.retry(ctx, "read migration "+m.name, func() error {
			c = claim{}
			err := ss.data.Query(qMigrationRead, m.version).WithContext(ctx).Consistency(gocql.Consistency(gocql.Serial)).
				Scan(&c.state, &c.owner, &c.claimedAt)
			if errors.Is(err, gocql.ErrNotFound) {
				return nil
			}
			c.exists = err == nil
			return err
		})
		if err != nil {
			return err
		}
		switch {
		case c.state == "done":
			return nil
		case !c.exists:
			if err := cas("claim migration", qMigrationClaim, m.version, m.name, owner, time.Now()); err != nil {
				return err
			}
		case c.owner == owner:
			finished, err := run(ctx, ss, m, owner, log)
			if err != nil {
				return err
			}
			if !finished {
				continue
			}
			if err := cas("mark done migration", qMigrationDone, time.Now(), m.version, owner); err != nil {
				return err
			}
		case time.Since(c.claimedAt) > staleClaim:
			log.Warn("taking over a stale migration claim", "owner", c.owner, "claimed_at", c.claimedAt)
			if err := cas("take over migration", qMigrationSteal, owner, time.Now(), m.version, c.owner); err != nil {
				return err
			}
		default:
			if !waiting {
				log.Info("waiting for another process to apply the migration", "owner", c.owner)
				waiting = true
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("cassandra: wait for migration %s by %s: %w", m.name, c.owner, ctx.Err())
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

// run executes a claimed migration's statements, renewing the claim after
// each, and reports whether it ran them all. It stops early when a renewal
// does not apply: the claim was taken over (the taker runs the same
// idempotent statements) or the renewal's answer was lost, which the
// caller's next read tells apart.
func run(ctx context.Context, ss *schemaSession, m migration, owner string, log *slog.Logger) (bool, error) {
	start := time.Now()
	log.Info("applying migration", "statements", len(m.statements))
	for i, stmt := range m.statements {
		if err := ss.ddl(ctx, fmt.Sprintf("migration %s, statement %d", m.name, i+1), stmt); err != nil {
			return false, err
		}
		var applied bool
		err := ss.retry(ctx, "renew claim of migration "+m.name, func() error {
			var err error
			applied, err = ss.data.Query(qMigrationRenew, time.Now(), m.version, owner).WithContext(ctx).
				SerialConsistency(gocql.Serial).Idempotent(false).MapScanCAS(map[string]any{})
			return err
		})
		if err != nil {
			return false, err
		}
		if !applied {
			log.Warn("migration claim was not renewed; checking who holds it")
			return false, nil
		}
	}
	log.Info("applied migration", "duration", time.Since(start).Round(time.Millisecond))
	return true, nil
}
