package file

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyport/keyport/credhelper"
)

// Items are keyport's own secrets (the account API token) kept in the same
// sealed file as the registry credentials. Their names start with '.', which
// no canonical registry key does, so they never collide with a credential
// and never appear in Get or List.

func isItemName(name string) bool { return strings.HasPrefix(name, ".") }

func checkItemName(name string) error {
	if !isItemName(name) || len(name) < 2 {
		return fmt.Errorf("file store: item name %q must start with '.'", name)
	}
	return nil
}

// GetItem returns the item's value, or an error wrapping ErrNotFound.
func (s *Store) GetItem(ctx context.Context, name string) (string, error) {
	if err := checkItemName(name); err != nil {
		return "", err
	}
	sn, err := s.read()
	if err != nil {
		return "", err
	}
	e, ok, err := sn.lookup(name)
	if err != nil {
		return "", s.corrupt(err)
	}
	if !ok {
		return "", fmt.Errorf("file store: %s: %w", name, credhelper.ErrNotFound)
	}
	return e.Secret, nil
}

// SetItem saves value under name, replacing any earlier value.
func (s *Store) SetItem(ctx context.Context, name, value string) error {
	if err := checkItemName(name); err != nil {
		return err
	}
	return s.update(ctx, func(m map[string]entry) error {
		m[name] = entry{Secret: value}
		return nil
	})
}

// DeleteItem removes name; it wraps ErrNotFound when nothing was saved.
func (s *Store) DeleteItem(ctx context.Context, name string) error {
	if err := checkItemName(name); err != nil {
		return err
	}
	return s.Delete(ctx, name)
}
