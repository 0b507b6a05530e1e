// Package testdb gives keyportd's tests their databases: a SQLite file in a
// temporary directory, or a fresh schema in the PostgreSQL that
// scripts/postgres.sh starts (KEYPORT_TEST_POSTGRES_DSN).
//
// PostgreSQL is required: without the DSN a test fails, loudly. A skip
// would let CI pass without ever testing the second storage.
package testdb

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"

	"github.com/keyport/keyport/server"
	"github.com/keyport/keyport/server/seal"
	"github.com/keyport/keyport/server/storage"
)

// EnvDSN names the variable holding the test PostgreSQL's DSN.
const EnvDSN = "KEYPORT_TEST_POSTGRES_DSN"

// Kinds are the storages every API test runs against.
var Kinds = []string{"sqlite", "postgres"}

// PostgresDSN returns the base DSN of the test PostgreSQL, or fails the test.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn != "" {
		return dsn
	}
	t.Fatalf(`%s is not set: start a throwaway PostgreSQL with
	eval "$(scripts/postgres.sh start /tmp/kp-pg)"
(make test does)`, EnvDSN)
	return ""
}

// DB is one test database.
type DB struct {
	Kind string
	// DSN is what keyportd's --db takes.
	DSN string
	// SQLitePath is the database file (sqlite only).
	SQLitePath string
	// BaseDSN and Schema locate the data in PostgreSQL (postgres only).
	BaseDSN, Schema string
}

// New returns an empty database of kind, removed when the test ends.
func New(t testing.TB, kind string) DB {
	t.Helper()
	switch kind {
	case "sqlite":
		p := filepath.Join(t.TempDir(), "keyportd.db")
		return DB{Kind: kind, DSN: "sqlite:" + p, SQLitePath: p}
	case "postgres":
		base := PostgresDSN(t)
		schema := "kp_test_" + randomHex(6)
		db, err := sql.Open("pgx", base)
		if err != nil {
			t.Fatalf("open test postgres: %v", err)
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
			t.Fatalf("create schema in test postgres (%s): %v", EnvDSN, err)
		}
		t.Cleanup(func() {
			db, err := sql.Open("pgx", base)
			if err != nil {
				return
			}
			defer db.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, _ = db.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`)
		})
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		return DB{Kind: kind, DSN: base + sep + "search_path=" + schema, BaseDSN: base, Schema: schema}
	}
	t.Fatalf("unknown database kind %q", kind)
	return DB{}
}

// Dump returns everything the database holds at rest: the SQLite file with
// its WAL, or a pg_dump of the schema.
func (d DB) Dump(t testing.TB) []byte {
	t.Helper()
	if d.Kind == "sqlite" {
		var all []byte
		for _, p := range []string{d.SQLitePath, d.SQLitePath + "-wal", d.SQLitePath + "-shm"} {
			b, err := os.ReadFile(p)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		if len(all) == 0 {
			t.Fatalf("database file %s is empty", d.SQLitePath)
		}
		return all
	}
	pgDump := PGDump(t)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(pgDump, "--schema="+d.Schema, "--data-only", "--inserts", "--dbname="+d.BaseDSN)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, stderr.String())
	}
	if !bytes.Contains(stdout.Bytes(), []byte("INSERT INTO")) {
		t.Fatalf("pg_dump holds no rows; dump:\n%s", stdout.String())
	}
	return stdout.Bytes()
}

// PGDump finds pg_dump: $KEYPORT_TEST_PG_BIN (set by scripts/postgres.sh),
// else the newest Debian /usr/lib/postgresql/*/bin, else $PATH.
func PGDump(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("KEYPORT_TEST_PG_BIN"); d != "" {
		return filepath.Join(d, "pg_dump")
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	if len(matches) > 0 {
		sort.Strings(matches)
		return matches[len(matches)-1]
	}
	p, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Fatalf("pg_dump not found: install Debian's postgresql package")
	}
	return p
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Handler opens the store at dsn, migrates it, seals it with a fresh master
// key and returns keyportd's HTTP handler over it: the whole server, minus
// the listener, for tests of keyportd and of its clients.
func Handler(t testing.TB, dsn string, configure ...func(*server.Config)) (http.Handler, storage.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := storage.OpenMigrated(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key := make([]byte, seal.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := server.CheckMasterKey(ctx, st, sealer); err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{Store: st, Sealer: sealer}
	for _, c := range configure {
		c(&cfg)
	}
	h, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h, st
}
