package remote

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/keyport/keyport/internal/sealedfile"
	"github.com/keyport/keyport/internal/smallfile"
)

// kdfToken marks a cache sealed under a key derived from the API token.
const kdfToken = "api-token"

// identity locates and unlocks one cache: one per API root (URL and team),
// token and project. Both the file name and the key are HMACs keyed by the
// token, so the name reveals nothing, a rotated token starts a new cache,
// and reading a cache needs the token — the cache is never more exposed than
// the token itself. No key file: a warm `get` is one file read and one
// decrypt.
type identity struct {
	path, lock string
	key        [sealedfile.KeySize]byte
}

func newIdentity(dir, base, project, token string) identity {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, []byte(token))
		m.Write([]byte("keyport/remote-cache/v1/" + label + "\x00" + base + "\x00" + project))
		return m.Sum(nil)
	}
	name := hex.EncodeToString(derive("name")[:16])
	id := identity{
		path: filepath.Join(dir, name+".cache"),
		lock: filepath.Join(dir, name+".lock"),
	}
	copy(id.key[:], derive("key"))
	return id
}

// cacheData is what a cache file seals.
type cacheData struct {
	// FetchedAt is when the API last confirmed the list; zero when it never
	// has (a file written only to remember RetryAt).
	FetchedAt time.Time `json:"fetchedAt"`
	// RetryAt: the API asked not to be called before then (429, exhausted
	// rate limit). Every helper process sharing the cache honours it.
	RetryAt time.Time    `json:"retryAt,omitzero"`
	Creds   []cachedCred `json:"creds"`
	// Others are credentials of the account this project may not use, by
	// id → updatedAt, remembered only where learning that took a GET (a
	// list without restrictions), so an unchanged one costs none next time.
	Others map[string]string `json:"others,omitempty"`
}

// cachedCred is one credential the project may use.
type cachedCred struct {
	ID         string   `json:"id"`
	Name       string   `json:"name,omitempty"`
	Provider   string   `json:"provider,omitempty"`
	UpdatedAt  string   `json:"updatedAt,omitempty"`
	Restricted bool     `json:"restricted,omitempty"`
	Projects   []string `json:"projects,omitempty"`
	// Keys are the canonical registry keys it answers for.
	Keys []string `json:"keys"`
	// Username is the list's, shown by List before the secret is fetched.
	Username string `json:"username,omitempty"`
	// Secrets per key, filled the first time a key is asked for.
	Secrets map[string]secret `json:"secrets,omitempty"`
}

type secret struct {
	Username string `json:"u"`
	Secret   string `json:"s"`
}

// hotData is the part of a cache a warm `get` or `list` reads: per key,
// the winning credential's username and, once fetched, its secret. It is
// decoded on every call, so it is kept small; the rest (every credential
// with its metadata) is decoded only when a refresh, a fetch or `account
// status` needs it.
type hotData struct {
	FetchedAt time.Time         `json:"t"`
	RetryAt   time.Time         `json:"r,omitzero"`
	Keys      map[string]hotKey `json:"k"`
}

// hotKey is one key's winner: Secret is "" until fetched (a registry
// secret is never empty).
type hotKey struct {
	User   string `json:"u"`
	Secret string `json:"s,omitempty"`
}

// snapshot is a cache as read: the hot index, and the full data decoded on
// first use.
type snapshot struct {
	hot     hotData
	coldRaw []byte
	full    *cacheData
	// byKey lists, per key, the credentials answering for it, winner first.
	byKey map[string][]*cachedCred
}

// newSnapshot is the snapshot of data in hand (just fetched or written).
func newSnapshot(d cacheData) *snapshot {
	s := &snapshot{}
	s.setFull(d)
	s.hot = hotOf(s)
	return s
}

func (s *snapshot) setFull(d cacheData) {
	s.full = &d
	s.byKey = map[string][]*cachedCred{}
	for i := range s.full.Creds {
		c := &s.full.Creds[i]
		for _, k := range c.Keys {
			s.byKey[k] = append(s.byKey[k], c)
		}
	}
	for _, cs := range s.byKey {
		slices.SortFunc(cs, compareCreds)
	}
}

// data is the full cache, decoded on first use; a part that does not
// decode counts as a cache never validated (the next call refreshes).
func (s *snapshot) data() *cacheData {
	if s.full == nil {
		var d cacheData
		if err := json.Unmarshal(s.coldRaw, &d); err != nil {
			d = cacheData{}
			s.hot = hotData{} // treated as never validated: revalidate
		}
		s.setFull(d)
	}
	return s.full
}

func hotOf(s *snapshot) hotData {
	h := hotData{FetchedAt: s.full.FetchedAt, RetryAt: s.full.RetryAt, Keys: make(map[string]hotKey, len(s.byKey))}
	for k, cs := range s.byKey {
		w := cs[0]
		hk := hotKey{User: w.Username}
		if sec, ok := w.Secrets[k]; ok && sec.Secret != "" {
			hk.User, hk.Secret = sec.Username, sec.Secret
		}
		h.Keys[k] = hk
	}
	return h
}

// compareCreds orders the credentials of one key, winner first: one
// restricted to projects (so chosen for this project) beats an unrestricted
// one; otherwise the lower id wins, so every helper picks the same one.
func compareCreds(a, b *cachedCred) int {
	if a.Restricted != b.Restricted {
		if a.Restricted {
			return -1
		}
		return 1
	}
	return strings.Compare(a.ID, b.ID)
}

// winner is the credential answering for key, or nil.
func (s *snapshot) winner(key string) *cachedCred {
	if s == nil {
		return nil
	}
	s.data()
	if cs := s.byKey[key]; len(cs) > 0 {
		return cs[0]
	}
	return nil
}

func (s *snapshot) validated() bool { return s != nil && !s.hot.FetchedAt.IsZero() }

// readCache reads and opens the cache; (nil, nil) when there is none or it
// cannot be used (damaged, another format): a cache is only ever a copy.
func readCache(id identity) (*snapshot, error) {
	data, _, err := smallfile.ReadFile(id.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the account cache: %w", err)
	}
	h, err := sealedfile.ParseCompact(data)
	if err != nil || h.KDF != kdfToken {
		return nil, nil
	}
	plain, ok := h.Open(&id.key)
	if !ok {
		return nil, nil
	}
	n, w := binary.Uvarint(plain)
	if w <= 0 || n > uint64(len(plain)-w) {
		return nil, nil
	}
	s := &snapshot{coldRaw: plain[w+int(n):]}
	if err := json.Unmarshal(plain[w:w+int(n)], &s.hot); err != nil {
		return nil, nil
	}
	return s, nil
}

// writeCache seals d and replaces the cache file atomically (0600).
func writeCache(id identity, d cacheData) error {
	if err := os.MkdirAll(filepath.Dir(id.path), 0o700); err != nil {
		return fmt.Errorf("account cache: %w", err)
	}
	// The sealed payload: uvarint length, the hot index, the full data.
	hot, err := json.Marshal(hotOf(newSnapshot(d)))
	if err != nil {
		return err
	}
	cold, err := json.Marshal(d)
	if err != nil {
		return err
	}
	plain := binary.AppendUvarint(make([]byte, 0, 10+len(hot)+len(cold)), uint64(len(hot)))
	plain = append(append(plain, hot...), cold...)
	h := sealedfile.Header{KDF: kdfToken}
	if err := h.Seal(&id.key, plain); err != nil {
		return err
	}
	if err := sealedfile.WriteCompactCache(id.path, h); err != nil {
		return fmt.Errorf("account cache: %w", err)
	}
	return nil
}

// removeCache drops the cache file (a 401/403 invalidates at once).
func removeCache(id identity) error {
	if err := os.Remove(id.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("account cache: %w", err)
	}
	return nil
}
