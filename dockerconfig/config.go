package dockerconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Top-level keys of config.json and auth.json that keyport edits.
const (
	keyAuths       = "auths"
	keyCredHelpers = "credHelpers"
	keyCredsStore  = "credsStore"
)

// Config is a Docker config.json or a containers auth.json opened for
// editing. Only the members an operation names change; everything else is
// written back as it was read (see Object).
type Config struct {
	obj *Object
}

// ParseConfig parses a config.json or auth.json. Empty input is an empty
// config. Invalid JSON gives a *SyntaxError, a non-object ErrNotObject: such
// a file is refused rather than overwritten.
func ParseConfig(data []byte) (*Config, error) {
	obj, err := ParseObject(data)
	if err != nil {
		return nil, err
	}
	return &Config{obj: obj}, nil
}

// Object gives access to the underlying top-level object.
func (c *Config) Object() *Object { return c.obj }

// Bytes returns the config as docker writes it: tab-indented, ending with a
// newline.
func (c *Config) Bytes() []byte { return c.obj.Indent() }

// CredsStore returns the "credsStore" value, if it is set to a string.
func (c *Config) CredsStore() (string, bool) {
	raw, ok := c.obj.Get(keyCredsStore)
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// SetCredsStore sets "credsStore", the helper docker uses for every registry
// without a credHelpers entry (helper is the suffix of docker-credential-*).
func (c *Config) SetCredsStore(helper string) error {
	return c.obj.SetString(keyCredsStore, helper)
}

// CredHelper returns the "credHelpers" entry for registry.
func (c *Config) CredHelper(registry string) (string, bool) {
	helpers, err := c.nested(keyCredHelpers)
	if err != nil {
		return "", false
	}
	raw, ok := helpers.Get(registry)
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// SetCredHelper sets credHelpers[registry] = helper, creating "credHelpers"
// if needed and keeping the order of the entries already there.
func (c *Config) SetCredHelper(registry, helper string) error {
	return c.editNested(keyCredHelpers, func(helpers *Object) error {
		return helpers.SetString(registry, helper)
	})
}

// RemoveCredHelper deletes credHelpers[registry] and reports whether it was
// there. An emptied "credHelpers" is kept as {}.
func (c *Config) RemoveCredHelper(registry string) (bool, error) {
	var removed bool
	err := c.editNested(keyCredHelpers, func(helpers *Object) error {
		removed = helpers.Delete(registry)
		return nil
	})
	if err != nil || !removed {
		return false, err
	}
	return true, nil
}

// Auths parses the "auths" member; see ParseAuths.
func (c *Config) Auths() (entries []AuthEntry, problems []error) {
	raw, ok := c.obj.Get(keyAuths)
	if !ok {
		return nil, nil
	}
	return parseAuthsValue(raw)
}

// RemoveAuths deletes the "auths" entries with the given keys (as written in
// the file, see AuthEntry.Key) and returns the keys it removed, in argument
// order. An emptied "auths" is kept as {}, which is what docker itself writes.
func (c *Config) RemoveAuths(keys ...string) ([]string, error) {
	var removed []string
	err := c.editNested(keyAuths, func(auths *Object) error {
		for _, k := range keys {
			if auths.Delete(k) {
				removed = append(removed, k)
			}
		}
		return nil
	})
	if err != nil || len(removed) == 0 {
		return nil, err
	}
	return removed, nil
}

// nested returns the object stored under key; absent or null is an empty
// object, as docker reads it.
func (c *Config) nested(key string) (*Object, error) {
	raw, ok := c.obj.Get(key)
	if !ok || string(raw) == "null" {
		return &Object{}, nil
	}
	obj, err := ParseObject(raw)
	if err != nil {
		return nil, fmt.Errorf("%q is not a JSON object: %w", key, ErrNotObject)
	}
	return obj, nil
}

// editNested applies edit to the object under key and stores it back only if
// it changed, so a no-op edit leaves the document alone.
func (c *Config) editNested(key string, edit func(*Object) error) error {
	obj, err := c.nested(key)
	if err != nil {
		return err
	}
	before := obj.Compact()
	if err := edit(obj); err != nil {
		return err
	}
	after := obj.Compact()
	if bytes.Equal(before, after) {
		return nil // in particular, never create an absent member for a no-op
	}
	return c.obj.Set(key, after)
}

// EditConfig turns an edit of a *Config into an EditFunc for Update and
// Preview. When the edit changes nothing the old bytes are returned as they
// were, so an already-configured file is not rewritten (or reformatted).
func EditConfig(edit func(*Config) error) EditFunc {
	return func(old []byte) ([]byte, error) {
		cfg, err := ParseConfig(old)
		if err != nil {
			return nil, err
		}
		before := cfg.obj.Compact()
		if err := edit(cfg); err != nil {
			return nil, err
		}
		if bytes.Equal(before, cfg.obj.Compact()) {
			return old, nil
		}
		return cfg.Bytes(), nil
	}
}

// EditRegistriesConf is the EditFunc that adds helper to the
// credential-helpers of a registries.conf; see AddCredentialHelper.
func EditRegistriesConf(helper string) EditFunc {
	return func(old []byte) ([]byte, error) {
		return AddCredentialHelper(old, helper)
	}
}
