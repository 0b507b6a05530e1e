package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

// sqlStore implements Store for both databases. Queries are written with "?"
// placeholders and rebound to "$n" for PostgreSQL.
type sqlStore struct {
	db      *sql.DB
	dialect dialect
}

func openSQLite(ctx context.Context, path string) (Store, error) {
	path, query, _ := strings.Cut(path, "?")
	if path == "" {
		return nil, errors.New("sqlite DSN has no path: use sqlite:PATH")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	// WAL lets readers run beside a writer (serve and `token create` share
	// the file); busy_timeout makes a second process wait for the write lock
	// instead of failing; immediate transactions take that lock up front so a
	// read-then-write transaction cannot deadlock into SQLITE_BUSY.
	params := "_busy_timeout=10000&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1&_txlock=immediate"
	if query != "" {
		params += "&" + query
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+params)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &sqlStore{db: db, dialect: dialectSQLite}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	// The database holds sealed secrets and token hashes only, but keep it
	// private all the same.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		_ = os.Chmod(p, 0o600)
	}
	return s, nil
}

func openPostgres(ctx context.Context, dsn string) (Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres database %s: %w", redactDSN(dsn), err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &sqlStore{db: db, dialect: dialectPostgres}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres %s: %w", redactDSN(dsn), err)
	}
	return s, nil
}

func (s *sqlStore) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }
func (s *sqlStore) Close() error                   { return s.db.Close() }

// q rebinds "?" placeholders for the store's dialect.
func (s *sqlStore) q(query string) string {
	if s.dialect != dialectPostgres {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func micros(t time.Time) int64 { return t.UnixMicro() }
func fromMicros(v int64) time.Time {
	return time.UnixMicro(v).UTC()
}

func joinIDs(ids []string) string { return strings.Join(ids, ",") }
func splitIDs(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// NormalizeIDs sorts ids and drops duplicates and empty strings.
func NormalizeIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func (s *sqlStore) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (s *sqlStore) SetMetaIfAbsent(ctx context.Context, key string, value []byte) ([]byte, error) {
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`), key, value); err != nil {
		return nil, fmt.Errorf("store %s: %w", key, err)
	}
	var got []byte
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM meta WHERE key = ?`), key).Scan(&got); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return got, nil
}

func (s *sqlStore) ResealAll(ctx context.Context, metaKeys []string, reseal func(SealedValue) ([]byte, error)) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n = 0
		if s.dialect == dialectPostgres {
			// SQLite's write lock covers the database; PostgreSQL needs a
			// table lock, or a credential saved meanwhile under the old key
			// would survive the rotation unreadable.
			if _, err := tx.ExecContext(ctx, `LOCK TABLE credentials, meta IN SHARE ROW EXCLUSIVE MODE`); err != nil {
				return fmt.Errorf("lock for re-sealing: %w", err)
			}
		}
		// The meta values first: the key check tells a wrong key apart from
		// a damaged credential.
		var values []SealedValue
		for _, key := range metaKeys {
			v := SealedValue{MetaKey: key}
			err := tx.QueryRowContext(ctx, s.q(`SELECT value FROM meta WHERE key = ?`), key).Scan(&v.Sealed)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", key, err)
			}
			values = append(values, v)
		}
		rows, err := tx.QueryContext(ctx, `SELECT team_id, id, secret FROM credentials ORDER BY team_id, id`)
		if err != nil {
			return fmt.Errorf("read credentials: %w", err)
		}
		for rows.Next() {
			var v SealedValue
			if err := rows.Scan(&v.Team, &v.ID, &v.Sealed); err != nil {
				rows.Close()
				return fmt.Errorf("read credentials: %w", err)
			}
			values = append(values, v)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("read credentials: %w", err)
		}
		for _, v := range values {
			sealed, err := reseal(v)
			if err != nil {
				return err
			}
			if v.MetaKey != "" {
				_, err = tx.ExecContext(ctx, s.q(`UPDATE meta SET value = ? WHERE key = ?`), sealed, v.MetaKey)
			} else {
				_, err = tx.ExecContext(ctx, s.q(`UPDATE credentials SET secret = ? WHERE team_id = ? AND id = ?`), sealed, v.Team, v.ID)
			}
			if err != nil {
				return fmt.Errorf("save a re-sealed value: %w", err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// ---- projects

func (s *sqlStore) CreateProject(ctx context.Context, p Project) error {
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO projects (team_id, id, name, description, created_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (team_id, id) DO NOTHING`),
		p.TeamID, p.ID, p.Name, p.Description, micros(p.CreatedAt))
	if err != nil {
		return fmt.Errorf("create project %s: %w", p.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("create project %s: %w", p.ID, err)
	} else if n == 0 {
		return fmt.Errorf("project %s: %w", p.ID, ErrConflict)
	}
	return nil
}

func (s *sqlStore) ListProjects(ctx context.Context, team string, only []string, page Page) ([]Project, error) {
	query := `SELECT team_id, id, name, description, created_at FROM projects WHERE team_id = ?`
	args := []any{team}
	if only != nil {
		if len(only) == 0 {
			return []Project{}, nil
		}
		query += ` AND id IN (` + placeholders(len(only)) + `)`
		for _, id := range only {
			args = append(args, id)
		}
	}
	query, args = pageClause(query, args, "id", page)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	defer rows.Close()
	out := []Project{}
	for rows.Next() {
		var p Project
		var created int64
		if err := rows.Scan(&p.TeamID, &p.ID, &p.Name, &p.Description, &created); err != nil {
			return nil, fmt.Errorf("list projects: %w", err)
		}
		p.CreatedAt = fromMicros(created)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return out, nil
}

func pageClause(query string, args []any, col string, page Page) (string, []any) {
	if page.After != "" {
		query += ` AND ` + col + ` > ?`
		args = append(args, page.After)
	}
	query += ` ORDER BY ` + col
	if page.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, page.Limit)
		if page.After == "" && page.Offset > 0 {
			query += ` OFFSET ?`
			args = append(args, page.Offset)
		}
	}
	return query, args
}

func (s *sqlStore) MissingProjects(ctx context.Context, team string, ids []string) ([]string, error) {
	ids = NormalizeIDs(ids)
	if len(ids) == 0 {
		return nil, nil
	}
	args := []any{team}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id FROM projects WHERE team_id = ? AND id IN (`+placeholders(len(ids))+`)`), args...)
	if err != nil {
		return nil, fmt.Errorf("look up projects: %w", err)
	}
	defer rows.Close()
	found := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("look up projects: %w", err)
		}
		found[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up projects: %w", err)
	}
	var missing []string
	for _, id := range ids {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

func (s *sqlStore) DeleteProject(ctx context.Context, team, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM projects WHERE team_id = ? AND id = ?`), team, id)
		if err != nil {
			return fmt.Errorf("delete project %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("delete project %s: %w", id, err)
		} else if n == 0 {
			return fmt.Errorf("project %s: %w", id, ErrNotFound)
		}
		// Drop the project from the restriction lists, keeping the join
		// table and the denormalised column in step.
		rows, err := tx.QueryContext(ctx, s.q(`SELECT credential_id FROM credential_projects WHERE team_id = ? AND project_id = ?`), team, id)
		if err != nil {
			return fmt.Errorf("delete project %s: %w", id, err)
		}
		var creds []string
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				rows.Close()
				return fmt.Errorf("delete project %s: %w", id, err)
			}
			creds = append(creds, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("delete project %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM credential_projects WHERE team_id = ? AND project_id = ?`), team, id); err != nil {
			return fmt.Errorf("delete project %s: %w", id, err)
		}
		for _, cid := range creds {
			c, err := s.getCredential(ctx, tx, team, cid)
			if err != nil {
				return err
			}
			kept := c.Projects[:0]
			for _, p := range c.Projects {
				if p != id {
					kept = append(kept, p)
				}
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE credentials SET projects = ? WHERE team_id = ? AND id = ?`), joinIDs(kept), team, cid); err != nil {
				return fmt.Errorf("delete project %s: %w", id, err)
			}
		}
		return nil
	})
}

// ---- credentials

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const credentialColumns = `team_id, id, name, description, provider, registry_url, username, secret, restricted, projects, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanCredential(row scanner) (Credential, error) {
	var c Credential
	var projects string
	var created, updated int64
	err := row.Scan(&c.TeamID, &c.ID, &c.Name, &c.Description, &c.Provider, &c.RegistryURL, &c.Username,
		&c.SealedSecret, &c.Restricted, &projects, &created, &updated)
	if err != nil {
		return c, err
	}
	c.Projects = splitIDs(projects)
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return c, nil
}

func (s *sqlStore) CreateCredential(ctx context.Context, c Credential) error {
	c.Projects = NormalizeIDs(c.Projects)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO credentials (`+credentialColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (team_id, id) DO NOTHING`),
			c.TeamID, c.ID, c.Name, c.Description, c.Provider, c.RegistryURL, c.Username,
			c.SealedSecret, c.Restricted, joinIDs(c.Projects), micros(c.CreatedAt), micros(c.UpdatedAt))
		if err != nil {
			return fmt.Errorf("create credential %s: %w", c.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("create credential %s: %w", c.ID, err)
		} else if n == 0 {
			return fmt.Errorf("credential %s: %w", c.ID, ErrConflict)
		}
		return s.setCredentialProjects(ctx, tx, c.TeamID, c.ID, c.Projects)
	})
}

func (s *sqlStore) setCredentialProjects(ctx context.Context, tx *sql.Tx, team, id string, projects []string) error {
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM credential_projects WHERE team_id = ? AND credential_id = ?`), team, id); err != nil {
		return fmt.Errorf("set restrictions of %s: %w", id, err)
	}
	for _, p := range projects {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO credential_projects (team_id, credential_id, project_id) VALUES (?, ?, ?)`), team, id, p); err != nil {
			return fmt.Errorf("set restrictions of %s: %w", id, err)
		}
	}
	return nil
}

func (s *sqlStore) getCredential(ctx context.Context, q querier, team, id string) (Credential, error) {
	c, err := scanCredential(q.QueryRowContext(ctx, s.q(`SELECT `+credentialColumns+` FROM credentials WHERE team_id = ? AND id = ?`), team, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("credential %s: %w", id, ErrNotFound)
	} else if err != nil {
		return c, fmt.Errorf("read credential %s: %w", id, err)
	}
	return c, nil
}

func (s *sqlStore) GetCredential(ctx context.Context, team, id string) (Credential, error) {
	return s.getCredential(ctx, s.db, team, id)
}

func (s *sqlStore) ListCredentials(ctx context.Context, team string, f CredentialFilter, page Page) ([]Credential, error) {
	query := `SELECT ` + credentialColumns + ` FROM credentials c WHERE team_id = ?`
	args := []any{team}
	if f.Projects != nil {
		query += ` AND (restricted = FALSE`
		if len(f.Projects) > 0 {
			query += ` OR EXISTS (SELECT 1 FROM credential_projects p WHERE p.team_id = c.team_id
				AND p.credential_id = c.id AND p.project_id IN (` + placeholders(len(f.Projects)) + `))`
			for _, p := range f.Projects {
				args = append(args, p)
			}
		}
		query += `)`
	}
	query, args = pageClause(query, args, "id", page)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	defer rows.Close()
	out := []Credential{}
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, fmt.Errorf("list credentials: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	return out, nil
}

func (s *sqlStore) UpdateCredential(ctx context.Context, team, id string, update func(*Credential) error) (Credential, error) {
	var out Credential
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// FOR UPDATE serialises concurrent updates of one row on PostgreSQL;
		// SQLite's immediate transactions already hold the write lock.
		query := `SELECT ` + credentialColumns + ` FROM credentials WHERE team_id = ? AND id = ?`
		if s.dialect == dialectPostgres {
			query += ` FOR UPDATE`
		}
		c, err := scanCredential(tx.QueryRowContext(ctx, s.q(query), team, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("credential %s: %w", id, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("read credential %s: %w", id, err)
		}
		if err := update(&c); err != nil {
			return err
		}
		c.TeamID, c.ID = team, id
		c.Projects = NormalizeIDs(c.Projects)
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE credentials SET description = ?, username = ?, secret = ?,
			restricted = ?, projects = ?, updated_at = ? WHERE team_id = ? AND id = ?`),
			c.Description, c.Username, c.SealedSecret, c.Restricted, joinIDs(c.Projects), micros(c.UpdatedAt), team, id); err != nil {
			return fmt.Errorf("update credential %s: %w", id, err)
		}
		if err := s.setCredentialProjects(ctx, tx, team, id, c.Projects); err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

func (s *sqlStore) DeleteCredential(ctx context.Context, team, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM credential_projects WHERE team_id = ? AND credential_id = ?`), team, id); err != nil {
			return fmt.Errorf("delete credential %s: %w", id, err)
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM credentials WHERE team_id = ? AND id = ?`), team, id)
		if err != nil {
			return fmt.Errorf("delete credential %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("delete credential %s: %w", id, err)
		} else if n == 0 {
			return fmt.Errorf("credential %s: %w", id, ErrNotFound)
		}
		return nil
	})
}

// ---- tokens

const tokenColumns = `id, team_id, name, role, projects, hash, created_at, revoked_at`

func scanToken(row scanner) (Token, error) {
	var t Token
	var projects, role string
	var created int64
	var revoked sql.NullInt64
	if err := row.Scan(&t.ID, &t.TeamID, &t.Name, &role, &projects, &t.Hash, &created, &revoked); err != nil {
		return t, err
	}
	t.Role = Role(role)
	t.Projects = splitIDs(projects)
	t.CreatedAt = fromMicros(created)
	if revoked.Valid {
		r := fromMicros(revoked.Int64)
		t.RevokedAt = &r
	}
	return t, nil
}

func (s *sqlStore) CreateToken(ctx context.Context, t Token) error {
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)
		ON CONFLICT DO NOTHING`),
		t.ID, t.TeamID, t.Name, string(t.Role), joinIDs(NormalizeIDs(t.Projects)), t.Hash, micros(t.CreatedAt))
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("create token: %w", err)
	} else if n == 0 {
		return fmt.Errorf("token %s: %w", t.ID, ErrConflict)
	}
	return nil
}

func (s *sqlStore) TokenByHash(ctx context.Context, hash []byte) (Token, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx, s.q(`SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`), hash))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("token: %w", ErrNotFound)
	} else if err != nil {
		return t, fmt.Errorf("look up token: %w", err)
	}
	return t, nil
}

func (s *sqlStore) ListTokens(ctx context.Context, team string) ([]Token, error) {
	query := `SELECT ` + tokenColumns + ` FROM tokens`
	var args []any
	if team != "" {
		query += ` WHERE team_id = ?`
		args = append(args, team)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY created_at, id`), args...)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

func (s *sqlStore) RevokeToken(ctx context.Context, team, id string) error {
	query := `UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`
	args := []any{micros(time.Now()), id}
	if team != "" {
		query += ` AND team_id = ?`
		args = append(args, team)
	}
	res, err := s.db.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("token %s (or it is already revoked): %w", id, ErrNotFound)
	}
	return nil
}
