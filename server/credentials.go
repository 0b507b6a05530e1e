package server

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/server/storage"
)

// providers are the account API's provider names. The legacy gcr-eu and
// gcr-us name a region's GCR host; they are kept as given.
var providers = map[string]bool{
	"dockerhub": true, "github": true, "gitlab": true, "gar": true, "ecr": true, "acr": true, "custom": true,
	"gcr": true, "gcr-eu": true, "gcr-us": true,
}

// providerFamily maps a provider name to what credhelper.DetectProvider
// reports for its registries.
func providerFamily(p string) credhelper.Provider {
	switch p {
	case "gcr-eu", "gcr-us":
		return credhelper.ProviderGCR
	}
	return credhelper.Provider(p)
}

func defaultRegistry(p string) string {
	switch p {
	case "gcr-eu":
		return "eu.gcr.io"
	case "gcr-us":
		return "us.gcr.io"
	}
	return credhelper.Provider(p).DefaultRegistry()
}

const (
	maxUsername = 256
	maxPassword = 64 << 10
)

type restrictionsJSON struct {
	Restricted bool     `json:"restricted"`
	Projects   []string `json:"projects"`
}

type secretJSON struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type authEntryJSON struct {
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// credentialJSON is a credential as the API shows it. Lists leave
// Credentials and Auths out; only a get by a reader or admin fills them.
type credentialJSON struct {
	ID           string                   `json:"id"`
	Name         string                   `json:"name"`
	Description  string                   `json:"description"`
	Provider     string                   `json:"provider"`
	RegistryURL  string                   `json:"registryUrl"`
	Username     string                   `json:"username"`
	Restrictions restrictionsJSON         `json:"restrictions"`
	CreatedAt    time.Time                `json:"createdAt"`
	UpdatedAt    time.Time                `json:"updatedAt"`
	Credentials  *secretJSON              `json:"credentials,omitempty"`
	Auths        map[string]authEntryJSON `json:"auths,omitempty"`
}

func toCredentialJSON(c storage.Credential) credentialJSON {
	projects := c.Projects
	if projects == nil {
		projects = []string{}
	}
	return credentialJSON{
		ID: c.ID, Name: c.Name, Description: c.Description, Provider: c.Provider, RegistryURL: c.RegistryURL,
		Username:     c.Username,
		Restrictions: restrictionsJSON{Restricted: c.Restricted, Projects: projects},
		CreatedAt:    c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
}

// secretAAD binds a sealed secret to its team and credential id.
func secretAAD(team, id string) []byte {
	return []byte("keyport/credential/" + team + "/" + id)
}

func listCredentials(rc *reqCtx) error {
	page, err := parsePage(rc.r)
	if err != nil {
		return err
	}
	out, pj, err := rc.credentialList(rc.r.URL.Query().Get("project"), page)
	if err != nil {
		return err
	}
	writeJSON(rc.w, http.StatusOK, map[string]any{"data": map[string]any{"credentials": out}, "pagination": pj})
	return nil
}

// credentialList lists what the caller may see, optionally only what project
// uses ("" for every credential).
func (rc *caller) credentialList(project string, page storage.Page) ([]credentialJSON, paginationJSON, error) {
	var filter storage.CredentialFilter
	if p := project; p != "" {
		if !validID(p) {
			return nil, paginationJSON{}, badFields(map[string]string{"project": "is not a valid project id"})
		}
		if rc.bound() && !containsString(rc.tok.Projects, p) {
			return nil, paginationJSON{}, errorf(http.StatusForbidden, "this token is not bound to project %q", p)
		}
		missing, err := rc.s.store.MissingProjects(rc.ctx, rc.team, []string{p})
		if err != nil {
			return nil, paginationJSON{}, err
		}
		if len(missing) > 0 {
			return nil, paginationJSON{}, errorf(http.StatusNotFound, "project %q not found", p)
		}
		filter.Projects = []string{p}
	} else if rc.bound() {
		filter.Projects = rc.tok.Projects
	}
	cs, err := rc.s.store.ListCredentials(rc.ctx, rc.team, filter, fetchPage(page))
	if err != nil {
		return nil, paginationJSON{}, err
	}
	keep, pj := pageResult(len(cs), page, func(i int) string { return cs[i].ID })
	out := make([]credentialJSON, 0, keep)
	for _, c := range cs[:keep] {
		if !rc.canSee(c) { // the query already filtered; this is the server's second lock
			continue
		}
		out = append(out, toCredentialJSON(c))
	}
	return out, pj, nil
}

// loadVisible returns the credential of the path, or 404 when it does not
// exist or the token may not see it (the two are indistinguishable on
// purpose: a project's token must not learn what other projects use).
func (rc *caller) loadVisible(id string) (storage.Credential, error) {
	if !validID(id) {
		return storage.Credential{}, errorf(http.StatusNotFound, "credential %q not found", truncate(id, 64))
	}
	c, err := rc.s.store.GetCredential(rc.ctx, rc.team, id)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !rc.canSee(c)) {
		return storage.Credential{}, errorf(http.StatusNotFound, "credential %q not found", id)
	}
	return c, err
}

func getCredential(rc *reqCtx) error {
	out, err := rc.credentialGet(rc.r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(rc.w, http.StatusOK, map[string]any{"data": out})
	return nil
}

// credentialGet reads a credential with its secret.
func (rc *caller) credentialGet(id string) (credentialJSON, error) {
	if err := rc.requireRole("read credentials with their secrets", storage.RoleAdmin, storage.RoleReader); err != nil {
		return credentialJSON{}, err
	}
	c, err := rc.loadVisible(id)
	if err != nil {
		return credentialJSON{}, err
	}
	secret, err := rc.s.sealer.Open(c.SealedSecret, secretAAD(c.TeamID, c.ID))
	if err != nil {
		return credentialJSON{}, fmt.Errorf("open secret of %s: %w", c.ID, err)
	}
	out := toCredentialJSON(c)
	out.Credentials = &secretJSON{Username: c.Username, Password: string(secret)}
	entry := authEntryJSON{Auth: base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + string(secret)))}
	if c.Username == credhelper.IdentityTokenUser {
		entry = authEntryJSON{IdentityToken: string(secret)}
	}
	out.Auths = map[string]authEntryJSON{c.RegistryURL: entry}
	return out, nil
}

// credentialBody is every form a create or patch body may take: the current
// one (credentials{username,password}) and the legacy ones (top-level
// username/password, a GCR keyfile object, a Docker config.json auths map).
type credentialBody struct {
	Name         *string          `json:"name"`
	Description  *string          `json:"description"`
	Provider     *string          `json:"provider"`
	RegistryURL  *string          `json:"registryUrl"`
	Credentials  *secretBody      `json:"credentials"`
	Restrictions *restrictionBody `json:"restrictions"`
	Username     *string          `json:"username"`
	Password     *string          `json:"password"`
	Keyfile      json.RawMessage  `json:"keyfile"`
	Auths        map[string]struct {
		Auth          string `json:"auth"`
		Username      string `json:"username"`
		Password      string `json:"password"`
		IdentityToken string `json:"identitytoken"`
	} `json:"auths"`
}

type secretBody struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
}

type restrictionBody struct {
	Restricted *bool    `json:"restricted"`
	Projects   []string `json:"projects"`
}

// secretInput is what a body says about the secret, whatever its form.
type secretInput struct {
	given    bool
	username *string
	password *string
	registry string // from an auths key, "" otherwise
}

// parseSecret reads the one secret form a body uses, recording field
// problems in details. provider is the provider given (maybe ""), registry
// the registryUrl given (maybe ""), both used to pick an auths entry or
// check a keyfile.
func parseSecret(b *credentialBody, registry string, details map[string]string) secretInput {
	var forms []string
	if b.Credentials != nil {
		forms = append(forms, "credentials")
	}
	if b.Username != nil || b.Password != nil {
		forms = append(forms, "username/password")
	}
	if len(b.Keyfile) > 0 && string(b.Keyfile) != "null" {
		forms = append(forms, "keyfile")
	}
	if b.Auths != nil {
		forms = append(forms, "auths")
	}
	if len(forms) > 1 {
		details["credentials"] = "give one of credentials, username/password, keyfile or auths, not " + strings.Join(forms, " and ")
		return secretInput{}
	}
	if len(forms) == 0 {
		return secretInput{}
	}
	in := secretInput{given: true}
	switch forms[0] {
	case "credentials":
		in.username, in.password = b.Credentials.Username, b.Credentials.Password
	case "username/password":
		in.username, in.password = b.Username, b.Password
	case "keyfile":
		if b.Keyfile[0] != '{' {
			details["keyfile"] = "must be a Google service-account JSON keyfile object"
			return secretInput{}
		}
		_, compact, err := credhelper.ParseKeyfile(b.Keyfile)
		if err != nil {
			details["keyfile"] = err.Error() // never quotes the file
			return secretInput{}
		}
		user := credhelper.KeyfileUser
		in.username, in.password = &user, &compact
	case "auths":
		want := ""
		if registry != "" {
			k, err := credhelper.NormalizeServerURL(registry)
			if err != nil {
				return in // reported with registryUrl
			}
			want = k
		}
		var picked []string
		for raw, e := range b.Auths {
			k, err := credhelper.NormalizeServerURL(raw)
			if err != nil {
				details["auths"] = "has a key that is not a registry: " + err.Error()
				return secretInput{}
			}
			if want != "" && k != want {
				continue
			}
			picked = append(picked, raw)
			user, pass := e.Username, e.Password
			switch {
			case e.IdentityToken != "":
				user, pass = credhelper.IdentityTokenUser, e.IdentityToken
			case e.Auth != "":
				dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(e.Auth))
				if err != nil {
					details["auths"] = "auth of " + k + " is not base64 of username:password"
					return secretInput{}
				}
				u, p, ok := strings.Cut(string(dec), ":")
				if !ok {
					details["auths"] = "auth of " + k + " is not base64 of username:password"
					return secretInput{}
				}
				user, pass = u, p
			}
			in.username, in.password, in.registry = &user, &pass, k
		}
		switch {
		case len(picked) == 0 && want != "":
			details["auths"] = "has no entry for registryUrl " + want
		case len(picked) == 0:
			details["auths"] = "must hold one registry"
		case len(picked) > 1:
			details["auths"] = "holds several registries: create one credential per registry, or give registryUrl to pick one"
		}
	}
	return in
}

// checkSecret validates a complete username and password.
func checkSecret(username, password string, details map[string]string) {
	switch {
	case username == "":
		details["credentials.username"] = "is required"
	case len(username) > maxUsername:
		details["credentials.username"] = "must be at most 256 bytes"
	case strings.ContainsAny(username, "\x00\n\r"):
		details["credentials.username"] = "must not contain control characters"
	}
	switch {
	case password == "":
		details["credentials.password"] = "is required"
	case len(password) > maxPassword:
		details["credentials.password"] = "must be at most 64 KiB"
	}
	if username == credhelper.KeyfileUser && password != "" {
		if _, _, err := credhelper.ParseKeyfile([]byte(password)); err != nil {
			details["credentials.password"] = "with username _json_key: " + err.Error()
		}
	}
}

// checkRestrictions validates a restriction and its projects' existence;
// an unrestricted credential keeps no project list.
func (rc *caller) checkRestrictions(restricted bool, projects []string, details map[string]string) []string {
	if !restricted {
		return []string{}
	}
	projects = storage.NormalizeIDs(projects)
	if len(projects) == 0 {
		details["restrictions.projects"] = "must list at least one project when restricted is true"
		return projects
	}
	for _, p := range projects {
		if !validID(p) {
			details["restrictions.projects"] = fmt.Sprintf("%q is not a valid project id", truncate(p, 64))
			return projects
		}
	}
	missing, err := rc.s.store.MissingProjects(rc.ctx, rc.team, projects)
	if err != nil {
		details["restrictions.projects"] = "could not be checked"
		rc.s.log.Error("check projects", "request_id", rc.reqID, "error", err)
		return projects
	}
	if len(missing) > 0 {
		details["restrictions.projects"] = "unknown project(s): " + strings.Join(missing, ", ")
	}
	return projects
}

func createCredential(rc *reqCtx) error {
	c, err := rc.credentialCreate(rc.decodeBody)
	if err != nil {
		return err
	}
	writeJSON(rc.w, http.StatusCreated, map[string]any{"data": toCredentialJSON(c)})
	return nil
}

// credentialCreate validates and saves a new credential; decode fills the
// body (after the role check, so a viewer learns nothing from a bad body).
func (rc *caller) credentialCreate(decode func(any) error) (storage.Credential, error) {
	if err := rc.requireRole("create credentials", storage.RoleAdmin); err != nil {
		return storage.Credential{}, err
	}
	var b credentialBody
	if err := decode(&b); err != nil {
		return storage.Credential{}, err
	}
	details := map[string]string{}
	name := deref(b.Name)
	if why := validateName(name); why != "" {
		details["name"] = why
	}
	if len(deref(b.Description)) > maxDescription {
		details["description"] = "must be at most 200 characters"
	}
	provider := deref(b.Provider)
	if provider != "" && !providers[provider] {
		details["provider"] = "must be one of dockerhub, github, gitlab, gar, ecr, acr, custom, gcr, gcr-eu, gcr-us"
	}
	registry := strings.TrimSpace(deref(b.RegistryURL))
	in := parseSecret(&b, registry, details)
	if !in.given && details["credentials"] == "" && details["keyfile"] == "" && details["auths"] == "" {
		details["credentials"] = "is required: credentials {username, password}"
	}
	if in.given && in.username != nil && in.password != nil {
		checkSecret(*in.username, *in.password, details)
	} else if in.given {
		if in.username == nil {
			details["credentials.username"] = "is required"
		}
		if in.password == nil {
			details["credentials.password"] = "is required"
		}
	}
	// The registry: given, else the auths key, else the provider's default;
	// then canonicalised by the one normalisation every client shares.
	if registry == "" {
		registry = in.registry
	}
	if registry == "" && len(b.Keyfile) > 0 && provider == "" {
		provider = "gcr"
	}
	if registry == "" && details["provider"] == "" {
		registry = defaultRegistry(provider)
		if registry == "" {
			if provider == "" {
				details["registryUrl"] = "is required when provider is not given"
			} else {
				details["registryUrl"] = "is required for provider " + provider
			}
		}
	}
	key := ""
	if registry != "" {
		k, err := credhelper.NormalizeServerURL(registry)
		if err != nil {
			details["registryUrl"] = err.Error()
		}
		key = k
	}
	if key != "" && details["provider"] == "" {
		detected := credhelper.DetectProvider(key)
		if provider == "" {
			provider = string(detected)
		}
		switch providerFamily(provider) {
		case credhelper.ProviderGitLab, credhelper.ProviderCustom:
			// any host: self-hosted GitLab, or whatever a custom registry is
		default:
			if detected != providerFamily(provider) {
				details["registryUrl"] = fmt.Sprintf("%s is not a %s registry (use provider custom for other hosts)", key, provider)
			}
		}
	}
	if len(b.Keyfile) > 0 && provider != "" {
		if f := providerFamily(provider); f != credhelper.ProviderGCR && f != credhelper.ProviderGAR {
			details["keyfile"] = "is for gcr and gar credentials only"
		}
	}
	restricted, projects := false, []string{}
	if b.Restrictions != nil {
		restricted = deref(b.Restrictions.Restricted)
		projects = b.Restrictions.Projects
	}
	projects = rc.checkRestrictions(restricted, projects, details)
	if len(details) > 0 {
		return storage.Credential{}, badFields(details)
	}
	if !rc.canWrite(restricted, projects) {
		return storage.Credential{}, errorf(http.StatusForbidden, "a token bound to projects may only create credentials restricted to its projects (%s)", strings.Join(rc.tok.Projects, ", "))
	}

	id := slug(name)
	sealed, err := rc.s.sealer.Seal([]byte(*in.password), secretAAD(rc.team, id))
	if err != nil {
		return storage.Credential{}, err
	}
	now := rc.s.now().UTC().Truncate(time.Microsecond)
	c := storage.Credential{
		TeamID: rc.team, ID: id, Name: name, Description: deref(b.Description), Provider: provider,
		RegistryURL: key, Username: *in.username, SealedSecret: sealed,
		Restricted: restricted, Projects: projects, CreatedAt: now, UpdatedAt: now,
	}
	if err := rc.s.store.CreateCredential(rc.ctx, c); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return storage.Credential{}, errorf(http.StatusConflict, "a credential with id %q already exists", id)
		}
		return storage.Credential{}, err
	}
	return c, nil
}

func patchCredential(rc *reqCtx) error {
	updated, err := rc.credentialPatch(rc.r.PathValue("id"), rc.decodeBody)
	if err != nil {
		return err
	}
	writeJSON(rc.w, http.StatusOK, map[string]any{"data": toCredentialJSON(updated)})
	return nil
}

// credentialPatch changes a credential's description, restrictions or
// secret; decode fills the body once the credential is known to be visible.
func (rc *caller) credentialPatch(id string, decode func(any) error) (storage.Credential, error) {
	if err := rc.requireRole("change credentials", storage.RoleAdmin); err != nil {
		return storage.Credential{}, err
	}
	current, err := rc.loadVisible(id)
	if err != nil {
		return storage.Credential{}, err
	}
	var b credentialBody
	if err := decode(&b); err != nil {
		return storage.Credential{}, err
	}
	details := map[string]string{}
	for field, v := range map[string]*string{"name": b.Name, "provider": b.Provider, "registryUrl": b.RegistryURL} {
		if v != nil {
			details[field] = "cannot be changed: create a new credential and delete this one"
		}
	}
	if len(deref(b.Description)) > maxDescription {
		details["description"] = "must be at most 200 characters"
	}
	if b.Auths != nil {
		details["auths"] = "cannot be used to change a credential: use credentials {username, password}"
	}
	in := parseSecret(&b, "", details)
	restricted, projects := current.Restricted, current.Projects
	if r := b.Restrictions; r != nil {
		if r.Restricted != nil {
			restricted = *r.Restricted
		}
		if r.Projects != nil {
			projects = r.Projects
		}
	}
	projects = rc.checkRestrictions(restricted, projects, details)
	if len(details) > 0 {
		return storage.Credential{}, badFields(details)
	}
	if !rc.canWrite(current.Restricted, current.Projects) || !rc.canWrite(restricted, projects) {
		return storage.Credential{}, errorf(http.StatusForbidden, "a token bound to projects may only change credentials restricted to its projects (%s)", strings.Join(rc.tok.Projects, ", "))
	}

	updated, err := rc.s.store.UpdateCredential(rc.ctx, rc.team, current.ID, func(c *storage.Credential) error {
		// Re-check against the row as locked: it may have changed since
		// loadVisible read it.
		if !rc.canSee(*c) || !rc.canWrite(c.Restricted, c.Projects) {
			return errorf(http.StatusNotFound, "credential %q not found", c.ID)
		}
		if b.Description != nil {
			c.Description = *b.Description
		}
		c.Restricted, c.Projects = restricted, projects
		if in.given {
			user := c.Username
			if in.username != nil {
				user = *in.username
			}
			var pass string
			if in.password != nil {
				pass = *in.password
			} else {
				old, err := rc.s.sealer.Open(c.SealedSecret, secretAAD(c.TeamID, c.ID))
				if err != nil {
					return fmt.Errorf("open secret of %s: %w", c.ID, err)
				}
				pass = string(old)
			}
			d := map[string]string{}
			checkSecret(user, pass, d)
			if len(d) > 0 {
				return badFields(d)
			}
			sealed, err := rc.s.sealer.Seal([]byte(pass), secretAAD(c.TeamID, c.ID))
			if err != nil {
				return err
			}
			c.Username, c.SealedSecret = user, sealed
		}
		c.UpdatedAt = rc.s.now().UTC().Truncate(time.Microsecond)
		return nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Credential{}, errorf(http.StatusNotFound, "credential %q not found", current.ID)
	}
	if err != nil {
		return storage.Credential{}, err
	}
	return updated, nil
}

func deleteCredential(rc *reqCtx) error {
	if err := rc.credentialDelete(rc.r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(rc.w, http.StatusOK, map[string]any{"data": map[string]any{}})
	return nil
}

// credentialDelete removes a credential.
func (rc *caller) credentialDelete(id string) error {
	if err := rc.requireRole("delete credentials", storage.RoleAdmin); err != nil {
		return err
	}
	c, err := rc.loadVisible(id)
	if err != nil {
		return err
	}
	if !rc.canWrite(c.Restricted, c.Projects) {
		return errorf(http.StatusForbidden, "a token bound to projects may only delete credentials restricted to its projects (%s)", strings.Join(rc.tok.Projects, ", "))
	}
	if err := rc.s.store.DeleteCredential(rc.ctx, rc.team, c.ID); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return errorf(http.StatusNotFound, "credential %q not found", c.ID)
		}
		return err
	}
	return nil
}
