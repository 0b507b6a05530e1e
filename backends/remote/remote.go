// Package remote is keyport's read-only store backed by the account API
// (keyportd, or the hosted API whose shape it follows): the registry
// credentials saved once for a team, filtered to the ones a project may use,
// and cached, encrypted, under KEYPORT_HOME.
//
// The cache is what makes it fit for `docker pull` on a fleet of CI runners:
//
//   - A warm `get` makes no request: one file read, one decrypt.
//   - The list is revalidated after TTL (one request: secrets are kept while a
//     credential's updatedAt is unchanged), and a secret is fetched the first
//     time its registry is asked for — so a cold `get` costs two requests, and
//     a runner pulling from 50 registries stays far under the API's limit.
//   - Helpers share the cache under a lock: sixteen concurrent cold `get`s
//     make one list and one fetch, not sixteen.
//   - When the API cannot answer (unreachable, timeout, 5xx, 429, garbage) a
//     stale cache serves for a grace window, with a warning on stderr; a
//     401/403 drops the cache at once, and a credential deleted or
//     re-restricted in the account stops at the next revalidation.
//   - x-ratelimit-* and Retry-After are recorded in the cache, so no helper
//     calls the API again before it said to.
package remote

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/internal/sealedfile"
)

// Defaults, all overridable through Options (and KEYPORT_* variables, see
// backends.Open).
const (
	DefaultTTL            = 5 * time.Minute
	DefaultGrace          = 24 * time.Hour
	DefaultTimeout        = 3 * time.Second
	DefaultConnectTimeout = time.Second
)

// lockSlack is how much longer than one API call a helper waits for another
// helper's fetch before giving up on it.
const lockSlack = time.Second

// TokenSource returns the API token. It is called once per process, the
// first time the store is used, so building a chain costs nothing.
type TokenSource func(ctx context.Context) (string, error)

// Options configure a Store. APIURL, Project, Token and CacheDir are required.
type Options struct {
	APIURL  string
	Team    string // optional: answers under /v1/teams/{team}/
	Project string
	Token   TokenSource
	// CacheDir holds the cache files (created 0700).
	CacheDir string
	// TTL is how long a list is trusted without asking; Grace how long after
	// the last successful answer a stale cache may stand in for a failing API.
	TTL, Grace time.Duration
	// Timeout bounds all API calls of one operation; ConnectTimeout one
	// connection attempt (TCP and TLS).
	Timeout, ConnectTimeout time.Duration
	// CAFile adds a private CA to the system roots for the API.
	CAFile string
	// Logger receives warnings (a stale answer). Nil discards them.
	Logger *slog.Logger
	// NewAPI builds the client for the account API (httpapi.New, or the
	// helper's route through the keyport program). Required.
	NewAPI func(APIConfig) (API, error)
	// Now defaults to time.Now.
	Now func() time.Time
}

// Store is the remote store. It implements credhelper.Reader only: writes go
// to the account API, or to a local store later in the chain.
type Store struct {
	opts   Options
	base   string
	cfgErr error

	mu       sync.Mutex
	id       *identity
	token    string
	client   API
	snap     *snapshot
	listErr  error // the API failed for the list in this process: don't retry
	warnedAt bool
}

// New returns a store; configuration errors surface on first use, so a chain
// like "remote,keychain" can still store to the keychain before account login.
func New(opts Options) *Store {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.Grace < opts.TTL {
		opts.Grace = opts.TTL
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = min(DefaultConnectTimeout, opts.Timeout)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{opts: opts}
	switch {
	case opts.APIURL == "":
		s.cfgErr = errors.New("remote store: no account API URL: run `docker-credential-keyport account login --url URL --project ID --token-stdin` or set KEYPORT_API_URL")
	case opts.Project == "":
		s.cfgErr = errors.New("remote store: no project: set KEYPORT_PROJECT or run account login --project ID")
	case opts.Token == nil, opts.CacheDir == "":
		s.cfgErr = errors.New("remote store: Token and CacheDir are required")
	default:
		s.base, s.cfgErr = BaseURL(opts.APIURL, opts.Team)
		if s.cfgErr != nil {
			s.cfgErr = fmt.Errorf("remote store: %w", s.cfgErr)
		}
	}
	return s
}

// Name implements credhelper.Reader.
func (s *Store) Name() string { return "remote" }

// BaseURL is the API root the store calls ("" when misconfigured).
func (s *Store) BaseURL() string { return s.base }

// Get implements credhelper.Reader: the credential the project may use for
// exactly key. The resolver asks the most specific key first, so a
// host/namespace credential wins over the host's.
func (s *Store) Get(ctx context.Context, key string) (credhelper.Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.open(ctx); err != nil {
		return credhelper.Credentials{}, err
	}
	if err := s.ensureList(ctx); err != nil {
		return credhelper.Credentials{}, err
	}
	// The warm path: the hot index alone, no decoding of the rest.
	if s.snap != nil {
		hk, ok := s.snap.hot.Keys[key]
		if !ok {
			return credhelper.Credentials{}, fmt.Errorf("remote: %s: %w", key, credhelper.ErrNotFound)
		}
		if hk.Secret != "" {
			return credhelper.Credentials{ServerURL: key, Username: hk.User, Secret: hk.Secret}, nil
		}
	}
	// A fetch may find the winner gone (deleted or re-restricted since the
	// list): the next one answers then. Bounded, as every loop on I/O.
	for range 4 {
		c := s.snap.winner(key)
		if c == nil {
			return credhelper.Credentials{}, fmt.Errorf("remote: %s: %w", key, credhelper.ErrNotFound)
		}
		if sec, ok := c.Secrets[key]; ok {
			return credhelper.Credentials{ServerURL: key, Username: sec.Username, Secret: sec.Secret}, nil
		}
		if err := s.fetchSecret(ctx, key, c.ID); err != nil {
			return credhelper.Credentials{}, err
		}
	}
	return credhelper.Credentials{}, fmt.Errorf("remote: %s: the account's credentials keep changing; try again", key)
}

// List implements credhelper.Reader: every registry the project may use,
// with the username of the credential that answers for it.
func (s *Store) List(ctx context.Context) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	if err := s.ensureList(ctx); err != nil {
		return nil, err
	}
	out := map[string]string{}
	if s.snap == nil {
		return out, nil
	}
	for k, hk := range s.snap.hot.Keys {
		out[k] = hk.User
	}
	return out, nil
}

// open resolves the token and reads the cache, once per process.
func (s *Store) open(ctx context.Context) error {
	if s.cfgErr != nil {
		return s.cfgErr
	}
	if s.id != nil {
		return nil
	}
	tok, err := s.opts.Token(ctx)
	if err != nil {
		return fmt.Errorf("remote store: %w", err)
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return errors.New("remote store: the API token is empty")
	}
	id := newIdentity(s.opts.CacheDir, s.base, s.opts.Project, tok)
	snap, err := readCache(id)
	if err != nil {
		return err
	}
	s.id, s.token, s.snap = &id, tok, snap
	return nil
}

func (s *Store) fresh(now time.Time) bool {
	if !s.snap.validated() {
		return false
	}
	age := now.Sub(s.snap.hot.FetchedAt)
	return age >= -time.Minute && age < s.opts.TTL
}

func (s *Store) usable(now time.Time) bool {
	if !s.snap.validated() {
		return false
	}
	age := now.Sub(s.snap.hot.FetchedAt)
	return age >= -time.Minute && age < s.opts.Grace
}

func (s *Store) retryAt() time.Time {
	if s.snap == nil {
		return time.Time{}
	}
	return s.snap.hot.RetryAt
}

// RateLimitedError: the API asked not to be called before Until, and there
// is no usable cache to answer meanwhile.
type RateLimitedError struct{ Until time.Time }

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("the account API rate limit is exhausted; it may be called again at %s",
		e.Until.Local().Format(time.TimeOnly))
}

func (e *RateLimitedError) Unwrap() error { return ErrUnavailable }

// ensureList makes the snapshot fresh, or stale within the grace window when
// the API cannot answer.
func (s *Store) ensureList(ctx context.Context) error {
	now := s.opts.Now()
	if s.fresh(now) {
		return nil
	}
	if s.listErr != nil {
		return s.fallback(s.listErr)
	}
	if r := s.retryAt(); now.Before(r) {
		return s.fallback(&RateLimitedError{Until: r})
	}
	err := s.locked(ctx, func(ctx context.Context) error {
		now := s.opts.Now()
		if s.fresh(now) { // another helper refreshed it while we waited
			return nil
		}
		if r := s.retryAt(); now.Before(r) {
			return &RateLimitedError{Until: r}
		}
		return s.refresh(ctx)
	})
	if err != nil {
		s.listErr = err
		return s.fallback(err)
	}
	return nil
}

// fallback serves the stale cache for an unavailable API, within the grace
// window, warning once per process; any other error stands.
func (s *Store) fallback(err error) error {
	if !errors.Is(err, ErrUnavailable) {
		return err
	}
	now := s.opts.Now()
	if !s.usable(now) {
		if s.snap.validated() {
			return fmt.Errorf("%w; the cached credentials are older than the %s grace window", err, s.opts.Grace)
		}
		return err
	}
	if !s.warnedAt {
		s.warnedAt = true
		age := now.Sub(s.snap.hot.FetchedAt)
		s.opts.Logger.Warn("account API unavailable: using cached credentials",
			"api", s.base, "project", s.opts.Project,
			"cached", age.Round(time.Second).String(),
			"usable_for", (s.opts.Grace - age).Round(time.Minute).String(),
			"error", err.Error())
	}
	return nil
}

// locked runs fn under the cache's lock with the cache re-read (another
// helper may have done the work) and the API deadline set.
func (s *Store) locked(ctx context.Context, fn func(context.Context) error) error {
	unlock, err := sealedfile.Lock(ctx, s.id.lock, s.id.path, s.opts.Timeout+lockSlack)
	if err != nil {
		return fmt.Errorf("%w: another keyport process is still fetching: %w", ErrUnavailable, err)
	}
	defer unlock()
	snap, err := readCache(*s.id)
	if err != nil {
		return err
	}
	s.snap = snap
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	return fn(ctx)
}

func (s *Store) api() (API, error) {
	if s.client != nil {
		return s.client, nil
	}
	if s.opts.NewAPI == nil {
		return nil, errors.New("remote store: no account API client configured")
	}
	client, err := s.opts.NewAPI(APIConfig{
		Base: s.base, Token: s.token, CAFile: s.opts.CAFile,
		ConnectTimeout: s.opts.ConnectTimeout, Timeout: s.opts.Timeout, Now: s.opts.Now,
	})
	if err != nil {
		return nil, err
	}
	s.client = client
	return client, nil
}

// apiFailed records what a failed call means for the cache: a rejected
// token drops it, a 429 remembers when to come back.
func (s *Store) apiFailed(err error) error {
	if errors.Is(err, ErrTokenRejected) {
		s.snap = nil
		if rerr := removeCache(*s.id); rerr != nil {
			return errors.Join(err, rerr)
		}
		return fmt.Errorf("%w (%s, project %s); cached credentials dropped", err, s.base, s.opts.Project)
	}
	var ae *APIError
	if errors.As(err, &ae) && !ae.RetryAt.IsZero() {
		d := cacheData{RetryAt: ae.RetryAt}
		if s.snap != nil {
			d = *s.snap.data()
			d.RetryAt = ae.RetryAt
		}
		if werr := writeCache(*s.id, d); werr == nil {
			s.snap = newSnapshot(d)
		}
	}
	return err
}

// refresh lists the account's credentials, keeps the project's, carries
// over secrets of unchanged credentials, and writes the cache.
func (s *Store) refresh(ctx context.Context) error {
	client, err := s.api()
	if err != nil {
		return err
	}
	list, rate, err := client.List(ctx, s.opts.Project)
	if err != nil {
		return s.apiFailed(err)
	}
	prev := map[string]*cachedCred{}
	if s.snap != nil {
		creds := s.snap.data().Creds
		for i := range creds {
			prev[creds[i].ID] = &creds[i]
		}
	}
	var others map[string]string
	if s.snap != nil {
		others = s.snap.data().Others
	}
	d := cacheData{FetchedAt: s.opts.Now(), Creds: []cachedCred{}, Others: map[string]string{}}
	for _, item := range list {
		if item.Restrictions == nil && item.UpdatedAt != "" && others[item.ID] == item.UpdatedAt {
			d.Others[item.ID] = item.UpdatedAt // known not to be ours, unchanged
			continue
		}
		c, keep, err := s.build(ctx, client, item, prev[item.ID])
		if err != nil {
			return s.apiFailed(err)
		}
		switch {
		case keep:
			d.Creds = append(d.Creds, c)
		case item.Restrictions == nil && c.UpdatedAt != "":
			d.Others[item.ID] = c.UpdatedAt
		}
	}
	if rate.Exhausted && rate.Reset.After(d.FetchedAt) {
		d.RetryAt = rate.Reset
	}
	if err := writeCache(*s.id, d); err != nil {
		return err
	}
	s.snap = newSnapshot(d)
	return nil
}

// build turns a listed credential into a cache entry and says whether the
// project may use it. A list that omits restrictions or the registry (the
// hosted API's shape) costs one GET for that credential — unless it is
// unchanged since the last list, when the cache already knows.
func (s *Store) build(ctx context.Context, client API, item Credential, prev *cachedCred) (cachedCred, bool, error) {
	c := cachedCred{ID: item.ID, Name: item.Name, Provider: item.Provider, UpdatedAt: item.UpdatedAt, Username: item.Username}
	restr := item.Restrictions
	keys := keysOf(item)
	unchanged := prev != nil && item.UpdatedAt != "" && prev.UpdatedAt == item.UpdatedAt
	if unchanged {
		if restr == nil {
			restr = &Restrictions{Restricted: prev.Restricted, Projects: prev.Projects}
		}
		if keys == nil {
			keys = prev.Keys
		}
		c.Secrets = prev.Secrets
		if c.Username == "" {
			c.Username = prev.Username
		}
	}
	if restr == nil || keys == nil {
		detail, _, err := client.Get(ctx, item.ID)
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == 404 {
			return c, false, nil // gone since the list, or not ours to read
		}
		if err != nil {
			return c, false, err
		}
		if restr == nil {
			restr = detail.Restrictions
		}
		if keys == nil {
			keys = keysOf(detail)
		}
		c.Secrets = secretsOf(detail, keys)
		c.UpdatedAt = detail.UpdatedAt
		if c.Username == "" {
			c.Username = detail.Username
		}
	}
	if restr == nil {
		// Neither list nor get says: the server's own filtering is all
		// there is, as on an API without restrictions.
		restr = &Restrictions{}
	}
	if len(keys) == 0 || !restr.Allows(s.opts.Project) {
		return c, false, nil
	}
	c.Keys, c.Restricted, c.Projects = keys, restr.Restricted, restr.Projects
	return c, true, nil
}

// fetchSecret GETs credential id and stores its secret for key; a
// credential gone or re-restricted since the list is dropped instead.
func (s *Store) fetchSecret(ctx context.Context, key, id string) error {
	now := s.opts.Now()
	if r := s.retryAt(); now.Before(r) {
		return fmt.Errorf("cannot fetch the credential for %s: %w", key, &RateLimitedError{Until: r})
	}
	return s.locked(ctx, func(ctx context.Context) error {
		if !s.snap.validated() {
			// Another helper dropped the cache (a 401) or it no longer reads:
			// fail closed rather than let the caller see "not found".
			return fmt.Errorf("cannot fetch the credential for %s: %w: the account cache was dropped meanwhile; try again", key, ErrUnavailable)
		}
		c := s.snap.winner(key)
		if c == nil || c.ID != id {
			return nil // changed by another helper: the caller looks again
		}
		if _, ok := c.Secrets[key]; ok {
			return nil
		}
		client, err := s.api()
		if err != nil {
			return err
		}
		detail, rate, err := client.Get(ctx, id)
		var ae *APIError
		gone := errors.As(err, &ae) && ae.Status == 404
		if err != nil && !gone {
			return fmt.Errorf("cannot fetch credential %q for %s: %w", id, key, s.apiFailed(err))
		}
		d := *s.snap.data()
		d.Creds = slices.Clone(d.Creds)
		if rate.Exhausted && rate.Reset.After(now) {
			d.RetryAt = rate.Reset
		}
		for i := range d.Creds {
			if d.Creds[i].ID != id {
				continue
			}
			if gone || (detail.Restrictions != nil && !detail.Restrictions.Allows(s.opts.Project)) {
				d.Creds = append(d.Creds[:i], d.Creds[i+1:]...)
				break
			}
			secrets := secretsOf(detail, d.Creds[i].Keys)
			if _, ok := secrets[key]; !ok {
				return fmt.Errorf("credential %q in the account has no secret for %s", id, key)
			}
			d.Creds[i].Secrets = secrets
			d.Creds[i].UpdatedAt = detail.UpdatedAt
			break
		}
		if err := writeCache(*s.id, d); err != nil {
			return err
		}
		s.snap = newSnapshot(d)
		return nil
	})
}

// providerRegistry is the registry a provider implies when a credential
// names none (the API's legacy GCR regions included).
func providerRegistry(p string) string {
	switch p {
	case "gcr-eu":
		return "eu.gcr.io"
	case "gcr-us":
		return "us.gcr.io"
	case "gcr-asia":
		return "asia.gcr.io"
	}
	return credhelper.Provider(p).DefaultRegistry()
}

// keysOf is the canonical keys a credential answers for: its registryUrl,
// else its legacy auths keys, else its provider's registry; nil when it
// does not say (a list that leaves it to the get).
func keysOf(c Credential) []string {
	var raw []string
	switch {
	case c.RegistryURL != "":
		raw = []string{c.RegistryURL}
	case len(c.Auths) > 0:
		for k := range c.Auths {
			raw = append(raw, k)
		}
	case providerRegistry(c.Provider) != "":
		raw = []string{providerRegistry(c.Provider)}
	default:
		return nil
	}
	keys := []string{}
	for _, r := range raw {
		if k, err := credhelper.NormalizeServerURL(r); err == nil && !containsKey(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

func containsKey(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// secretsOf reads a credential's secret for each of keys: credentials
// {username, password} (keyportd, the current API), a GCR keyfile, or the
// legacy auths entries (base64 user:pass, username/password, identitytoken).
func secretsOf(c Credential, keys []string) map[string]secret {
	out := map[string]secret{}
	if c.Credentials != nil && c.Credentials.Password != "" {
		user := c.Credentials.Username
		if user == "" {
			user = c.Username
		}
		for _, k := range keys {
			out[k] = secret{Username: user, Secret: c.Credentials.Password}
		}
		return out
	}
	if len(c.Keyfile) > 0 && c.Keyfile[0] == '{' {
		if _, compact, err := credhelper.ParseKeyfile(c.Keyfile); err == nil {
			for _, k := range keys {
				out[k] = secret{Username: credhelper.KeyfileUser, Secret: compact}
			}
			return out
		}
	}
	for raw, e := range c.Auths {
		k, err := credhelper.NormalizeServerURL(raw)
		if err != nil || !containsKey(keys, k) {
			continue
		}
		if sec, ok := authEntrySecret(e); ok {
			out[k] = sec
		}
	}
	return out
}

func authEntrySecret(e AuthEntry) (secret, bool) {
	switch {
	case e.IdentityToken != "":
		return secret{Username: credhelper.IdentityTokenUser, Secret: e.IdentityToken}, true
	case e.Auth != "":
		dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(e.Auth))
		if err != nil {
			return secret{}, false
		}
		u, p, ok := strings.Cut(string(dec), ":")
		return secret{Username: u, Secret: p}, ok && u != ""
	case e.Username != "" && e.Password != "":
		return secret{Username: e.Username, Secret: e.Password}, true
	}
	return secret{}, false
}
