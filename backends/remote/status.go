package remote

import (
	"context"
	"maps"
	"slices"
	"time"
)

// Row is one credential answering (or shadowed) for one registry key, for
// `account status` and `ls`. It never holds a secret.
type Row struct {
	Key            string
	Username       string
	CredentialID   string
	CredentialName string
	Provider       string
	Restricted     bool
	Projects       []string
	// SecretCached: the secret was fetched already (a get makes no request).
	SecretCached bool
	// ShadowedBy is the id of the credential that answers for Key instead
	// ("" for the one that answers).
	ShadowedBy string
}

// CacheState says what the cache holds and how far it can be trusted.
type CacheState struct {
	Path string
	// Validated is when the API last confirmed the list (zero: never).
	Validated time.Time
	Fresh     bool // within TTL: no request before Validated+TTL
	Usable    bool // within the grace window: served if the API fails
	RetryAt   time.Time
	TTL       time.Duration
	Grace     time.Duration
}

// Describe lists every key the project's credentials answer for, winners
// first, from the cache as it is (no request).
func (s *Store) Describe(ctx context.Context) ([]Row, CacheState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.open(ctx); err != nil {
		return nil, CacheState{}, err
	}
	now := s.opts.Now()
	st := CacheState{Path: s.id.path, TTL: s.opts.TTL, Grace: s.opts.Grace, Fresh: s.fresh(now), Usable: s.usable(now), RetryAt: s.retryAt()}
	if s.snap == nil {
		return nil, st, nil
	}
	st.Validated = s.snap.hot.FetchedAt
	s.snap.data()
	var rows []Row
	for _, k := range slices.Sorted(maps.Keys(s.snap.byKey)) {
		cs := s.snap.byKey[k]
		for i, c := range cs {
			r := Row{
				Key: k, Username: c.Username, CredentialID: c.ID, CredentialName: c.Name, Provider: c.Provider,
				Restricted: c.Restricted, Projects: c.Projects,
			}
			if sec, ok := c.Secrets[k]; ok {
				r.SecretCached, r.Username = true, sec.Username
			}
			if i > 0 {
				r.ShadowedBy = cs[0].ID
			}
			rows = append(rows, r)
		}
	}
	return rows, st, nil
}

// Revalidate asks the API for the list now, whatever the TTL (account
// status uses it to prove the token). It honours a recorded Retry-After and
// does not fall back to the stale cache: the caller wants the API's answer.
func (s *Store) Revalidate(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.open(ctx); err != nil {
		return err
	}
	if r := s.retryAt(); s.opts.Now().Before(r) {
		return &RateLimitedError{Until: r}
	}
	s.listErr = nil
	return s.locked(ctx, s.refresh)
}
