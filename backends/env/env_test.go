package env_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends/env"
	"github.com/keyport/keyport/credhelper"
)

func TestVariable(t *testing.T) {
	for key, want := range map[string]string{
		"ghcr.io":                 "KEYPORT_AUTH_GHCR_IO",
		"docker.io":               "KEYPORT_AUTH_DOCKER_IO",
		"localhost:5000":          "KEYPORT_AUTH_LOCALHOST_5000",
		"europe-docker.pkg.dev":   "KEYPORT_AUTH_EUROPE_DOCKER_PKG_DEV",
		"registry.gitlab.com/grp": "KEYPORT_AUTH_REGISTRY_GITLAB_COM_GRP",
	} {
		if got := env.Variable(key); got != want {
			t.Errorf("Variable(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestGetAndList(t *testing.T) {
	ctx := context.Background()
	s := env.New([]string{
		"KEYPORT_AUTH_GHCR_IO=octo:ghp:with:colons",
		"KEYPORT_AUTH_LOCALHOST_5000=me:pw",
		"KEYPORT_AUTH_BROKEN_IO=nocolon",
		"PATH=/bin",
	})
	got, err := s.Get(ctx, "ghcr.io")
	if err != nil || got.Username != "octo" || got.Secret != "ghp:with:colons" {
		t.Fatalf("Get ghcr.io = %+v, %v", got, err)
	}
	if _, err := s.Get(ctx, "quay.io"); !errors.Is(err, credhelper.ErrNotFound) {
		t.Fatalf("Get quay.io err = %v, want ErrNotFound", err)
	}
	_, err = s.Get(ctx, "broken.io")
	if err == nil || errors.Is(err, credhelper.ErrNotFound) || !strings.Contains(err.Error(), "user:secret") {
		t.Fatalf("Get broken.io err = %v, want a hard error naming the format", err)
	}
	if strings.Contains(err.Error(), "nocolon") {
		t.Fatal("error echoes the variable's value")
	}
	m, err := s.List(ctx)
	if err != nil || len(m) != 2 || m["ghcr.io"] != "octo" || m["localhost:5000"] != "me" {
		t.Fatalf("List = %v, %v", m, err)
	}
	var _ credhelper.Reader = s
	if _, writable := any(s).(credhelper.Store); writable {
		t.Fatal("env store must be read-only")
	}
}
