// Package storage keeps keyportd's state: teams' projects, registry
// credentials (whose secrets arrive already sealed, see package server/seal)
// and API tokens (whose hashes only are kept).
//
// One Store interface has two implementations over database/sql that share
// their queries and differ only in dialect: SQLite through modernc.org/sqlite
// (embedded, no cgo, the default) and PostgreSQL through jackc/pgx/v5. All
// state lives in the database, never in process memory, so several keyportd
// processes can serve one PostgreSQL database.
package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNotFound is wrapped when the row asked for does not exist (in that team).
var ErrNotFound = errors.New("not found")

// ErrConflict is wrapped when an id is already taken.
var ErrConflict = errors.New("already exists")

// Role is what a token may do. The names are the ones operators type.
type Role string

const (
	// RoleAdmin may do everything, within its team and project binding.
	RoleAdmin Role = "admin"
	// RoleReader lists credentials and reads them with their secrets.
	RoleReader Role = "reader"
	// RoleViewer lists credentials without their secrets.
	RoleViewer Role = "viewer"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	return r == RoleAdmin || r == RoleReader || r == RoleViewer
}

// Project is a team's project; credentials may be restricted to projects.
type Project struct {
	TeamID      string
	ID          string
	Name        string
	Description string
	CreatedAt   time.Time
}

// Credential is a saved registry credential. SealedSecret is the password
// (or keyfile) encrypted by the caller; storage never sees it in the clear.
type Credential struct {
	TeamID       string
	ID           string
	Name         string
	Description  string
	Provider     string
	RegistryURL  string
	Username     string
	SealedSecret []byte
	Restricted   bool
	Projects     []string // sorted, unique
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Token is an API token. Hash is SHA-256 of the token string; the token itself
// is shown once at creation and never stored.
type Token struct {
	ID        string
	TeamID    string
	Name      string
	Role      Role
	Projects  []string // empty: not bound to projects
	Hash      []byte
	CreatedAt time.Time
	RevokedAt *time.Time
}

// Page selects a slice of a list ordered by id: after a cursor (the last id
// of the previous page) when After is set, else at Offset. Limit rows are
// returned at most.
type Page struct {
	After  string
	Offset int
	Limit  int
}

// CredentialFilter narrows a credential list. A nil Projects means every
// credential; a non-nil Projects keeps the unrestricted credentials and those
// restricted to at least one of the listed projects.
type CredentialFilter struct {
	Projects []string
}

// SealedValue is one sealed value ResealAll hands over: a credential's
// secret (Team and ID set) or a meta value (MetaKey set).
type SealedValue struct {
	Team, ID string
	MetaKey  string
	Sealed   []byte
}

// Store is everything keyportd keeps. Every method is scoped by team so one
// database can hold several teams without them seeing each other.
type Store interface {
	// Migrate brings the schema up to date. It is safe to run from several
	// processes at once (they serialise on a database lock).
	Migrate(ctx context.Context) error
	Ping(ctx context.Context) error
	Close() error

	// SetMetaIfAbsent stores value under key unless the key exists, and returns
	// the value stored afterwards (the earlier one when it existed).
	SetMetaIfAbsent(ctx context.Context, key string, value []byte) ([]byte, error)

	CreateProject(ctx context.Context, p Project) error
	ListProjects(ctx context.Context, team string, only []string, page Page) ([]Project, error)
	// MissingProjects returns the ids among ids that are not projects of team.
	MissingProjects(ctx context.Context, team string, ids []string) ([]string, error)
	// DeleteProject removes the project and drops it from every credential's
	// restriction list.
	DeleteProject(ctx context.Context, team, id string) error

	CreateCredential(ctx context.Context, c Credential) error
	GetCredential(ctx context.Context, team, id string) (Credential, error)
	ListCredentials(ctx context.Context, team string, f CredentialFilter, page Page) ([]Credential, error)
	// UpdateCredential loads the credential, lets update change it, and saves
	// the result, all in one transaction, so concurrent updates never lose
	// each other's changes. An error from update aborts and is returned as is.
	UpdateCredential(ctx context.Context, team, id string, update func(*Credential) error) (Credential, error)
	DeleteCredential(ctx context.Context, team, id string) error

	// ResealAll passes every sealed value through reseal and saves what it
	// returns: each credential's secret, and the meta values named in
	// metaKeys that exist. One transaction, which keeps other writers out
	// until it ends: every value is rewritten or none is. It returns how
	// many values it rewrote.
	ResealAll(ctx context.Context, metaKeys []string, reseal func(SealedValue) ([]byte, error)) (int, error)

	CreateToken(ctx context.Context, t Token) error
	// TokenByHash returns the token with that hash, revoked or not.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	ListTokens(ctx context.Context, team string) ([]Token, error)
	RevokeToken(ctx context.Context, team, id string) error
}

// Open opens the database a DSN names: "sqlite:PATH" (or "sqlite://PATH",
// "file:PATH") or "postgres://..." / "postgresql://...". It does not migrate.
func Open(ctx context.Context, dsn string) (Store, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return openPostgres(ctx, dsn)
	case strings.HasPrefix(dsn, "sqlite:"), strings.HasPrefix(dsn, "file:"):
		path := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "file:"), "//")
		return openSQLite(ctx, path)
	}
	return nil, fmt.Errorf("unsupported database %q: want sqlite:PATH or a postgres:// URL", redactDSN(dsn))
}

// OpenMigrated opens the database a DSN names and brings its schema up to
// date: what every program and test that serves from it needs first.
func OpenMigrated(ctx context.Context, dsn string) (Store, error) {
	st, err := Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// SQLitePath returns the file a sqlite DSN names, or "" for other DSNs.
func SQLitePath(dsn string) string {
	if !strings.HasPrefix(dsn, "sqlite:") && !strings.HasPrefix(dsn, "file:") {
		return ""
	}
	p := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "file:"), "//")
	p, _, _ = strings.Cut(p, "?")
	return p
}

// redactDSN drops a password from a DSN so it can appear in a message.
func redactDSN(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		if len(dsn) > 40 {
			return dsn[:40] + "…"
		}
		return dsn
	}
	if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
		userinfo := rest[:at]
		user, _, _ := strings.Cut(userinfo, ":")
		rest = user + ":xxxxx" + rest[at:]
	}
	return scheme + "://" + rest
}
