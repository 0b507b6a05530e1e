package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/keyport/keyport/server/seal"
	"github.com/keyport/keyport/server/storage"
)

// This file is the server's operations as Go calls, for the web console
// (package server/console). They are the very functions the API handlers
// call: same role checks, project binding, restrictions, validation and
// errors. Only the transport differs.

// SetConsole serves h at / beside the API: every path outside /v1/ and
// /healthz goes to h, through the same request ids, panic recovery and access
// log as the API. Call it before serving.
func (s *Server) SetConsole(h http.Handler) { s.console = h }

// Sealer is the server's sealer, for the console to seal its own state
// (sessions) under the master key with its own associated data.
func (s *Server) Sealer() *seal.Sealer { return s.sealer }

// Now is the server's clock.
func (s *Server) Now() time.Time { return s.now() }

// Authenticate finds the token a person typed, with the API's rule: missing,
// malformed, unknown and revoked tokens are one indistinguishable 401.
func (s *Server) Authenticate(ctx context.Context, token string) (storage.Token, error) {
	if token == "" || len(token) > 512 {
		return storage.Token{}, errorf(http.StatusUnauthorized, "invalid or revoked token")
	}
	return s.tokenByHash(ctx, HashToken(token))
}

// TokenByHash is Authenticate for a session that kept the token's hash.
func (s *Server) TokenByHash(ctx context.Context, hash []byte) (storage.Token, error) {
	return s.tokenByHash(ctx, hash)
}

func (s *Server) tokenByHash(ctx context.Context, hash []byte) (storage.Token, error) {
	t, err := s.store.TokenByHash(ctx, hash)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && t.RevokedAt != nil) {
		return storage.Token{}, errorf(http.StatusUnauthorized, "invalid or revoked token")
	}
	if err != nil {
		return storage.Token{}, fmt.Errorf("authenticate: %w", err)
	}
	return t, nil
}

// Caller is a token acting on the server, under the API's rules.
type Caller struct{ c caller }

// As returns tok acting through ctx. reqID ties log lines to the request.
func (s *Server) As(ctx context.Context, tok storage.Token, reqID string) *Caller {
	return &Caller{c: caller{ctx: ctx, s: s, tok: tok, team: tok.TeamID, reqID: reqID}}
}

// RequestID is the id the server gave r (also in its X-Request-Id header).
func RequestID(r *http.Request) string { return requestID(r) }

// Token is the caller's token.
func (c *Caller) Token() storage.Token { return c.c.tok }

// Credential is a credential as the API shows it (Secret is filled by Get only).
type Credential struct {
	ID, Name, Description, Provider, RegistryURL, Username string
	Restricted                                             bool
	Projects                                               []string
	CreatedAt, UpdatedAt                                   time.Time
	Secret                                                 string
}

func fromJSON(j credentialJSON) Credential {
	c := Credential{
		ID: j.ID, Name: j.Name, Description: j.Description, Provider: j.Provider, RegistryURL: j.RegistryURL,
		Username: j.Username, Restricted: j.Restrictions.Restricted, Projects: j.Restrictions.Projects,
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt,
	}
	if j.Credentials != nil {
		c.Secret = j.Credentials.Password
	}
	return c
}

// Page is one page of a list: Cursor continues it when More.
type Page struct {
	More   bool
	Cursor string
}

// ListCredentials is GET /v1/integrations/registries (project "" for all);
// cursor "" starts at the beginning.
func (c *Caller) ListCredentials(project string, perPage int, cursor string) ([]Credential, Page, error) {
	p, err := pageOf(perPage, cursor)
	if err != nil {
		return nil, Page{}, err
	}
	js, pj, err := c.c.credentialList(project, p)
	if err != nil {
		return nil, Page{}, err
	}
	out := make([]Credential, len(js))
	for i, j := range js {
		out[i] = fromJSON(j)
	}
	return out, Page{More: pj.HasNextPage, Cursor: pj.Cursor}, nil
}

// Describe is a credential without its secret, for any role that may list it.
func (c *Caller) Describe(id string) (Credential, error) {
	cr, err := c.c.loadVisible(id)
	if err != nil {
		return Credential{}, err
	}
	return fromJSON(toCredentialJSON(cr)), nil
}

// Get is GET /v1/integrations/registries/{id}: with the secret, for admin
// and reader tokens.
func (c *Caller) Get(id string) (Credential, error) {
	j, err := c.c.credentialGet(id)
	if err != nil {
		return Credential{}, err
	}
	return fromJSON(j), nil
}

// CredentialInput is a create or change, the fields of the API's body; nil
// leaves a field out. Keyfile is a GCR service-account JSON keyfile.
type CredentialInput struct {
	Name, Description, Provider, RegistryURL *string
	Username, Password                       *string
	Keyfile                                  json.RawMessage
	Restricted                               *bool
	Projects                                 []string
}

func (in CredentialInput) body() credentialBody {
	b := credentialBody{
		Name: in.Name, Description: in.Description, Provider: in.Provider, RegistryURL: in.RegistryURL,
		Keyfile: in.Keyfile,
	}
	if in.Username != nil || in.Password != nil {
		b.Credentials = &secretBody{Username: in.Username, Password: in.Password}
	}
	if in.Restricted != nil || in.Projects != nil {
		b.Restrictions = &restrictionBody{Restricted: in.Restricted, Projects: in.Projects}
	}
	return b
}

func (in CredentialInput) decoder() func(any) error {
	return func(v any) error {
		*(v.(*credentialBody)) = in.body()
		return nil
	}
}

// Create is POST /v1/integrations/registries.
func (c *Caller) Create(in CredentialInput) (Credential, error) {
	cr, err := c.c.credentialCreate(in.decoder())
	if err != nil {
		return Credential{}, err
	}
	return fromJSON(toCredentialJSON(cr)), nil
}

// Update is PATCH /v1/integrations/registries/{id}.
func (c *Caller) Update(id string, in CredentialInput) (Credential, error) {
	cr, err := c.c.credentialPatch(id, in.decoder())
	if err != nil {
		return Credential{}, err
	}
	return fromJSON(toCredentialJSON(cr)), nil
}

// Delete is DELETE /v1/integrations/registries/{id}.
func (c *Caller) Delete(id string) error { return c.c.credentialDelete(id) }

// Project is a project the caller may see.
type Project struct{ ID, Name string }

// ListProjects is GET /v1/projects.
func (c *Caller) ListProjects(perPage int, cursor string) ([]Project, Page, error) {
	p, err := pageOf(perPage, cursor)
	if err != nil {
		return nil, Page{}, err
	}
	js, pj, err := c.c.projectList(p)
	if err != nil {
		return nil, Page{}, err
	}
	out := make([]Project, len(js))
	for i, j := range js {
		out[i] = Project{ID: j.ID, Name: j.Name}
	}
	return out, Page{More: pj.HasNextPage, Cursor: pj.Cursor}, nil
}

func pageOf(perPage int, cursor string) (storage.Page, error) {
	p := storage.Page{Limit: defaultPerPage}
	if perPage > 0 {
		p.Limit = min(perPage, maxPerPage)
	}
	if cursor != "" {
		after, ok := decodeCursor(cursor)
		if !ok {
			return p, &apiError{Status: http.StatusBadRequest, Message: "invalid query parameters", Details: map[string]string{"cursor": "is not a cursor this server returned"}}
		}
		p.After = after
	}
	return p, nil
}

// ErrorInfo is what an error from a Caller tells the person: the API's status,
// message and field details. Internal errors (a database fault) are
// "internal error" with Internal set; log Err and show the message.
type ErrorInfo struct {
	Status   int
	Message  string
	Details  map[string]string
	Internal bool
}

// DescribeError maps an error from a Caller or Authenticate to ErrorInfo.
func DescribeError(err error) ErrorInfo {
	e, internal := asAPIError(err)
	return ErrorInfo{Status: e.Status, Message: e.Message, Details: e.Details, Internal: internal}
}
