package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/keyport/keyport/server/storage"
)

// TokenPrefix marks keyportd tokens so people and secret scanners recognise
// one in a log or a commit.
const TokenPrefix = "kp_"

// NewToken creates an API token for team with role, optionally bound to
// projects, stores its SHA-256 hash and returns the token itself, which
// exists nowhere else afterwards. A plain hash is enough (no salt, no slow
// KDF) because the token carries 256 random bits: there is nothing to guess.
func NewToken(ctx context.Context, store storage.Store, team, name string, role storage.Role, projects []string) (string, storage.Token, error) {
	if !validID(team) {
		return "", storage.Token{}, fmt.Errorf("invalid team id %q", team)
	}
	if !role.Valid() {
		return "", storage.Token{}, fmt.Errorf("invalid role %q: use admin, reader or viewer", role)
	}
	if strings.TrimSpace(name) == "" || len(name) > 100 || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return "", storage.Token{}, errors.New("token name must be 1 to 100 printable characters")
	}
	for _, p := range projects {
		if !validID(p) {
			return "", storage.Token{}, fmt.Errorf("invalid project id %q", p)
		}
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", storage.Token{}, fmt.Errorf("generate token: %w", err)
	}
	var idb [8]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", storage.Token{}, fmt.Errorf("generate token id: %w", err)
	}
	token := TokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	t := storage.Token{
		ID:        "tok_" + hex.EncodeToString(idb[:]),
		TeamID:    team,
		Name:      name,
		Role:      role,
		Projects:  storage.NormalizeIDs(projects),
		Hash:      HashToken(token),
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
	}
	if err := store.CreateToken(ctx, t); err != nil {
		return "", storage.Token{}, err
	}
	return token, t, nil
}

// HashToken is how tokens are stored and looked up.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// authenticate finds the token of a request. Every failure is the same 401
// (missing, malformed, unknown or revoked) so a caller learns nothing about
// which tokens exist.
func (s *Server) authenticate(r *http.Request) (storage.Token, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" {
		return storage.Token{}, errorf(http.StatusUnauthorized, "missing Authorization: Bearer token")
	}
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || len(token) > 512 {
		return storage.Token{}, errorf(http.StatusUnauthorized, "Authorization must be: Bearer <token>")
	}
	return s.tokenByHash(r.Context(), HashToken(token))
}

// bound reports whether the caller's token is bound to projects.
func (rc *caller) bound() bool { return len(rc.tok.Projects) > 0 }

// requireRole answers 403 unless the token has one of roles.
func (rc *caller) requireRole(what string, roles ...storage.Role) error {
	if slices.Contains(roles, rc.tok.Role) {
		return nil
	}
	return errorf(http.StatusForbidden, "a %s token may not %s", rc.tok.Role, what)
}

// requireUnbound answers 403 for project-bound tokens on team-wide operations.
func (rc *caller) requireUnbound(what string) error {
	if rc.bound() {
		return errorf(http.StatusForbidden, "a token bound to projects may not %s", what)
	}
	return nil
}

// canSee is the restriction rule: an unbound token sees every credential of
// its team; a bound token sees unrestricted credentials and those restricted
// to at least one of its projects.
func (rc *caller) canSee(c storage.Credential) bool {
	if !rc.bound() || !c.Restricted {
		return true
	}
	for _, p := range c.Projects {
		if slices.Contains(rc.tok.Projects, p) {
			return true
		}
	}
	return false
}

// canWrite decides whether a bound token may create, change or delete c: only
// when c is restricted to its projects alone, so a project's token cannot
// touch what other projects use.
func (rc *caller) canWrite(restricted bool, projects []string) bool {
	if !rc.bound() {
		return true
	}
	if !restricted || len(projects) == 0 {
		return false
	}
	for _, p := range projects {
		if !slices.Contains(rc.tok.Projects, p) {
			return false
		}
	}
	return true
}
