package keychain

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/zalando/go-keyring"
)

// Items are keyport's own secrets (the account API token) kept beside the
// registry credentials but outside the index: their names start with '.',
// which no canonical registry key does, so they never collide with a
// credential and never appear in List.

func checkItemName(name string) error {
	if !strings.HasPrefix(name, ".") || len(name) < 2 || name == indexUser || strings.Contains(name, "#") {
		return fmt.Errorf("keychain: item name %q must start with '.' and not be reserved", name)
	}
	return nil
}

// GetItem returns the item's value, or an error wrapping ErrNotFound.
func (s *Store) GetItem(ctx context.Context, name string) (string, error) {
	if err := checkItemName(name); err != nil {
		return "", err
	}
	v, err := s.load(ctx, name)
	if errors.Is(err, keyring.ErrNotFound) {
		return "", notStored(name)
	}
	return v, err
}

// SetItem saves value under name, replacing any earlier value.
func (s *Store) SetItem(ctx context.Context, name, value string) error {
	if err := checkItemName(name); err != nil {
		return err
	}
	return s.save(ctx, name, value)
}

// DeleteItem removes name; it wraps ErrNotFound when nothing was saved.
func (s *Store) DeleteItem(ctx context.Context, name string) error {
	if err := checkItemName(name); err != nil {
		return err
	}
	old, err := s.get(ctx, name)
	if errors.Is(err, keyring.ErrNotFound) {
		return notStored(name)
	}
	if err != nil {
		return err
	}
	if err := s.del(ctx, name); err != nil {
		return err
	}
	s.dropChunks(ctx, name, old)
	return nil
}
