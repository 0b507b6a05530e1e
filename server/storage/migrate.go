package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// migrations are applied in order, each once; a database records how many it
// has had in schema_migrations. Append only: never edit a released step.
// "BLOB" is rewritten to "BYTEA" for PostgreSQL; everything else is portable.
// Times are Unix microseconds, so both databases store and compare them alike.
var migrations = []string{
	`CREATE TABLE meta (
		key   TEXT PRIMARY KEY,
		value BLOB NOT NULL
	);
	CREATE TABLE projects (
		team_id     TEXT NOT NULL,
		id          TEXT NOT NULL,
		name        TEXT NOT NULL,
		description TEXT NOT NULL DEFAULT '',
		created_at  BIGINT NOT NULL,
		PRIMARY KEY (team_id, id)
	);
	CREATE TABLE credentials (
		team_id      TEXT NOT NULL,
		id           TEXT NOT NULL,
		name         TEXT NOT NULL,
		description  TEXT NOT NULL DEFAULT '',
		provider     TEXT NOT NULL,
		registry_url TEXT NOT NULL,
		username     TEXT NOT NULL,
		secret       BLOB NOT NULL,
		restricted   BOOLEAN NOT NULL,
		projects     TEXT NOT NULL DEFAULT '',
		created_at   BIGINT NOT NULL,
		updated_at   BIGINT NOT NULL,
		PRIMARY KEY (team_id, id)
	);
	CREATE TABLE credential_projects (
		team_id       TEXT NOT NULL,
		credential_id TEXT NOT NULL,
		project_id    TEXT NOT NULL,
		PRIMARY KEY (team_id, credential_id, project_id)
	);
	CREATE INDEX credential_projects_by_project ON credential_projects (team_id, project_id);
	CREATE TABLE tokens (
		id         TEXT PRIMARY KEY,
		team_id    TEXT NOT NULL,
		name       TEXT NOT NULL,
		role       TEXT NOT NULL,
		projects   TEXT NOT NULL DEFAULT '',
		hash       BLOB NOT NULL UNIQUE,
		created_at BIGINT NOT NULL,
		revoked_at BIGINT
	);`,
}

// Migrate applies the steps the database has not had yet, in one transaction
// that first takes a database-wide lock (an advisory lock on PostgreSQL, the
// write lock of an immediate transaction on SQLite), so two processes starting
// at once — serve and `token create`, or two serve replicas — do not race.
func (s *sqlStore) Migrate(ctx context.Context) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect == dialectPostgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7478011)`); err != nil {
				return fmt.Errorf("migrate: lock: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		var have int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
			return fmt.Errorf("migrate: read schema version: %w", err)
		}
		if have > len(migrations) {
			return fmt.Errorf("migrate: database schema version %d is newer than this keyportd knows (%d); upgrade keyportd", have, len(migrations))
		}
		for v := have + 1; v <= len(migrations); v++ {
			step := migrations[v-1]
			if s.dialect == dialectPostgres {
				step = strings.ReplaceAll(step, "BLOB", "BYTEA")
			}
			for _, stmt := range strings.Split(step, ";") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("migrate to version %d: %w", v, err)
				}
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version) VALUES (?)`), v); err != nil {
				return fmt.Errorf("migrate to version %d: %w", v, err)
			}
		}
		return nil
	})
}
