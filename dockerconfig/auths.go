package dockerconfig

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// TokenUsername is the Username that marks an identity token, as
// docker-credential-helpers defines it.
const TokenUsername = "<token>"

// Reasons an "auths" entry is skipped. Each problem wraps exactly one of them
// so callers (and tests) can tell them apart with errors.Is.
var (
	ErrEntryNotObject = errors.New("not a JSON object")
	ErrFieldType      = errors.New("field has the wrong type")
	ErrBadBase64      = errors.New(`"auth" is not valid base64`)
	ErrNoColon        = errors.New(`"auth" does not decode to user:password`)
	ErrEmptyUsername  = errors.New("username is empty")
	ErrEmptySecret    = errors.New("password is empty")
	ErrNoCredential   = errors.New(`no "auth", "username"/"password" or "identitytoken" (a credsStore may hold it)`)
	ErrEmptyKey       = errors.New("registry key is empty")
	ErrDuplicateKey   = errors.New("key repeated later in the file; the last one is used")
)

// AuthEntry is one credential from the "auths" object of a config.json.
type AuthEntry struct {
	Key      string // the key exactly as written, e.g. "https://index.docker.io/v1/"
	Username string // TokenUsername for an identity token
	Secret   string
}

// AuthProblem is why one "auths" entry was skipped. Its message names the
// key and the reason, never the value: the value is a secret.
type AuthProblem struct {
	Key string // "" when "auths" itself is unusable
	Err error
}

func (p *AuthProblem) Error() string {
	if p.Key == "" {
		return fmt.Sprintf("auths: %v", p.Err)
	}
	if strings.Contains(p.Key, "@") {
		// "https://user:password@host": naming it would print the password.
		return fmt.Sprintf("auths entry with credentials in its key: %v", p.Err)
	}
	return fmt.Sprintf("auths entry %q: %v", p.Key, p.Err)
}

func (p *AuthProblem) Unwrap() error { return p.Err }

// ParseAuths reads the credentials in the "auths" object of a config.json,
// in file order. Each malformed entry is skipped and reported as one
// *AuthProblem so an import can go on with the rest. err is set only when
// data is not a JSON object at all; a document without "auths" has no entries.
func ParseAuths(data []byte) (entries []AuthEntry, problems []error, err error) {
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, nil, err
	}
	entries, problems = cfg.Auths()
	return entries, problems, nil
}

// parseAuthsValue reads the raw value of "auths". A repeated key is read the
// way encoding/json (and so docker) reads it: the last one wins.
func parseAuthsValue(raw json.RawMessage) (entries []AuthEntry, problems []error) {
	if string(raw) == "null" {
		return nil, nil
	}
	auths, err := ParseObject(raw)
	if err != nil {
		return nil, []error{&AuthProblem{Err: ErrEntryNotObject}}
	}
	last := make(map[string]int, auths.Len())
	for i, m := range auths.members {
		last[m.key] = i
	}
	for i, m := range auths.members {
		if last[m.key] != i {
			problems = append(problems, &AuthProblem{Key: m.key, Err: ErrDuplicateKey})
			continue
		}
		entry, err := parseAuthEntry(m.key, m.value)
		if err != nil {
			problems = append(problems, &AuthProblem{Key: m.key, Err: err})
			continue
		}
		entries = append(entries, entry)
	}
	return entries, problems
}

// authFields mirrors the fields docker's AuthConfig reads from a file.
// Decoding into a struct keeps docker's case-insensitive field matching.
type authFields struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
}

// parseAuthEntry turns one entry into a credential with docker's precedence:
// an identity token wins (docker stores it instead of the password), then
// "auth" (docker lets it override username/password), then the plain fields.
func parseAuthEntry(key string, raw json.RawMessage) (AuthEntry, error) {
	if key == "" {
		return AuthEntry{}, ErrEmptyKey
	}
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		return AuthEntry{}, ErrEntryNotObject
	}
	var f authFields
	if err := json.Unmarshal(raw, &f); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return AuthEntry{}, fmt.Errorf("field %q is a %s, not a string: %w", te.Field, te.Value, ErrFieldType)
		}
		return AuthEntry{}, ErrEntryNotObject
	}
	switch {
	case f.IdentityToken != "":
		return AuthEntry{Key: key, Username: TokenUsername, Secret: f.IdentityToken}, nil
	case f.Auth != "":
		user, pass, err := decodeAuth(f.Auth)
		if err != nil {
			return AuthEntry{}, err
		}
		return checkedEntry(key, user, pass)
	case f.Username != "" || f.Password != "":
		return checkedEntry(key, f.Username, f.Password)
	default:
		return AuthEntry{}, ErrNoCredential
	}
}

func checkedEntry(key, user, pass string) (AuthEntry, error) {
	if user == "" {
		return AuthEntry{}, ErrEmptyUsername
	}
	if pass == "" {
		return AuthEntry{}, ErrEmptySecret
	}
	return AuthEntry{Key: key, Username: user, Secret: pass}, nil
}

// decodeAuth splits the base64 "user:password" of an "auth" field at the
// first colon, so a password may itself contain colons. Like docker it trims
// NUL padding from the password; unpadded base64 is accepted too. The errors
// never carry the decoded or encoded text.
func decodeAuth(auth string) (user, pass string, err error) {
	decoded, err := base64.StdEncoding.DecodeString(auth)
	if err != nil {
		decoded, err = base64.RawStdEncoding.DecodeString(auth)
	}
	if err != nil {
		return "", "", ErrBadBase64
	}
	user, pass, ok := strings.Cut(string(decoded), ":")
	if !ok {
		return "", "", ErrNoColon
	}
	return user, strings.Trim(pass, "\x00"), nil
}
