package credhelper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/keyport/keyport/dockerconfig"
	"github.com/keyport/keyport/internal/smallfile"
)

// ConfigFile is the name of the settings file under KEYPORT_HOME.
const ConfigFile = "config.json"

// Config is keyport's settings: the config file under KEYPORT_HOME with
// KEYPORT_* environment variables laid over it. It never holds a secret.
type Config struct {
	Home string `json:"-"`
	// Backend is the store chain, e.g. "keychain" or "remote,file"; empty
	// means "decide once and record it" (see backends.Open).
	Backend string `json:"backend,omitempty"`
	APIURL  string `json:"apiURL,omitempty"`
	Project string `json:"project,omitempty"`
	Team    string `json:"team,omitempty"`
	// Providers records a provider chosen with `login --provider` where the
	// host alone does not tell (a self-hosted GitLab, say): key → provider.
	Providers map[string]Provider `json:"providers,omitempty"`
}

// ProviderOf is the provider recorded for key, else the one its host implies.
func (c Config) ProviderOf(key string) Provider {
	if p, ok := c.Providers[key]; ok {
		return p
	}
	return DetectProvider(key)
}

// Backends splits Backend into store names.
func (c Config) Backends() []string {
	var out []string
	for _, b := range strings.Split(c.Backend, ",") {
		if b = strings.TrimSpace(strings.ToLower(b)); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Path is the config file's path.
func (c Config) Path() string { return filepath.Join(c.Home, ConfigFile) }

// Getenv is os.Getenv's shape, so tests can pass a map.
type Getenv func(string) string

// HomeDir resolves KEYPORT_HOME, defaulting to $XDG_CONFIG_HOME/keyport.
func HomeDir(getenv Getenv) (string, error) {
	if h := getenv("KEYPORT_HOME"); h != "" {
		return filepath.Abs(h)
	}
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "keyport"), nil
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("cannot locate keyport's home: set KEYPORT_HOME: %w", err)
		}
	}
	return filepath.Join(home, ".config", "keyport"), nil
}

// LoadConfig reads the config file (absent is fine) and applies the environment.
func LoadConfig(getenv Getenv) (Config, error) {
	home, err := HomeDir(getenv)
	if err != nil {
		return Config{}, err
	}
	c := Config{Home: home}
	data, _, err := smallfile.ReadFile(c.Path())
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return c, fmt.Errorf("reading config: %w", err)
	default:
		if err := json.Unmarshal(data, &c); err != nil {
			return c, fmt.Errorf("config %s is not valid JSON: %w", c.Path(), err)
		}
	}
	for _, o := range []struct {
		env   string
		field *string
	}{
		{"KEYPORT_BACKEND", &c.Backend}, {"KEYPORT_API_URL", &c.APIURL},
		{"KEYPORT_PROJECT", &c.Project}, {"KEYPORT_TEAM", &c.Team},
	} {
		if v := getenv(o.env); v != "" {
			*o.field = v
		}
	}
	return c, nil
}

// SaveConfig updates the file-backed part of the settings: a locked
// read-modify-write and an atomic replace, so a helper recording its backend
// and `account login` at the same moment lose neither change. Keys this
// version does not know are kept.
func SaveConfig(home string, update func(*Config)) error {
	path := Config{Home: home}.Path()
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", home, err)
	}
	_, err := dockerconfig.Update(context.Background(), path, func(old []byte) ([]byte, error) {
		raw := map[string]json.RawMessage{}
		c := Config{Home: home}
		if len(old) > 0 {
			if err := json.Unmarshal(old, &raw); err != nil {
				return nil, fmt.Errorf("config is not valid JSON: %w", err)
			}
			_ = json.Unmarshal(old, &c)
		}
		update(&c)
		known, _ := json.Marshal(c)
		var fields map[string]json.RawMessage
		_ = json.Unmarshal(known, &fields)
		for _, k := range []string{"backend", "apiURL", "project", "team", "providers"} {
			if v, ok := fields[k]; ok {
				raw[k] = v
			} else {
				delete(raw, k)
			}
		}
		out, err := json.MarshalIndent(raw, "", "  ")
		if err != nil {
			return nil, err
		}
		return append(out, '\n'), nil
	})
	return err
}
