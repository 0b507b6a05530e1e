package env_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends/env"
	"github.com/keyport/keyport/backends/storetest"
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

// TestReaderContract runs the read contract on KEYPORT_AUTH_CONFIG, whose
// keys are exact. (KEYPORT_AUTH_<LABEL> cannot list every key back — a '-'
// reads as '.' — so its own test above covers what it can.)
func TestReaderContract(t *testing.T) {
	storetest.RunReader(t, func(t *testing.T, seed []credhelper.Credentials) credhelper.Reader {
		auths := map[string]map[string]string{}
		for _, c := range seed {
			auths[c.ServerURL] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Secret))}
		}
		cfg, _ := json.Marshal(map[string]any{"auths": auths})
		return env.New([]string{env.ConfigVar + "=" + string(cfg)})
	})
}

func TestAuthConfig(t *testing.T) {
	ctx := context.Background()
	s := env.New([]string{
		env.ConfigVar + `={"auths": {"https://index.docker.io/v1/": {"auth": "aHViOmZyb20tY29uZmln"}}}`,
		"KEYPORT_AUTH_DOCKER_IO=hub:from-variable",
	})
	if c, err := s.Get(ctx, "docker.io"); err != nil || c.Secret != "from-config" {
		t.Fatalf("Get docker.io = %+v, %v; want the config's entry to win", c, err)
	}
	bad := env.New([]string{env.ConfigVar + `={"auths": {"ghcr.io": {"auth": "!!SECRETISH"}}}`})
	_, err := bad.Get(ctx, "ghcr.io")
	if err == nil || errors.Is(err, credhelper.ErrNotFound) || !strings.Contains(err.Error(), env.ConfigVar) || strings.Contains(err.Error(), "SECRETISH") {
		t.Fatalf("malformed config: err = %v, want a hard error naming the variable, not the value", err)
	}
}
