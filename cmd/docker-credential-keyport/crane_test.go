package main_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker-credential-helpers/client"
	"github.com/docker/docker-credential-helpers/credentials"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/credhelper/ggcr"
)

// registryFromEnv returns the TLS test registry, a transport trusting its CA
// and the password, failing when scripts/registry.sh has not run.
func registryFromEnv(t *testing.T) (host string, tr http.RoundTripper, password string) {
	t.Helper()
	host = os.Getenv("KEYPORT_TEST_REGISTRY")
	if host == "" {
		t.Fatal("KEYPORT_TEST_REGISTRY is not set: start the registries with scripts/registry.sh (make test does)")
	}
	ca, err := os.ReadFile(os.Getenv("KEYPORT_TEST_REGISTRY_CA"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = &tls.Config{RootCAs: pool}
	pw, err := os.ReadFile(os.Getenv("KEYPORT_TEST_REGISTRY_PASSWORD_FILE"))
	if err != nil {
		t.Fatal(err)
	}
	return host, base, strings.TrimSpace(string(pw))
}

// TestCraneThroughDockerConfig is go-containerregistry's own path: crane with
// authn.DefaultKeychain reads DOCKER_CONFIG, finds credHelpers → keyport and
// runs the built helper. Push and pull succeed; a wrong credential is refused.
func TestCraneThroughDockerConfig(t *testing.T) {
	host, tr, pw := registryFromEnv(t)
	env := helperEnv(t, "file")
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	dockerDir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dockerDir)
	cfg := `{"credHelpers": {"` + host + `": "keyport"}}`
	if err := os.WriteFile(filepath.Join(dockerDir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	store(t, env, host, "keyport", pw)

	opts := []crane.Option{crane.WithAuthFromKeychain(authn.DefaultKeychain), crane.WithTransport(tr)}
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/keyport/crane-push:e2e"
	if err := crane.Push(img, ref, opts...); err != nil {
		t.Fatalf("crane push through keyport: %v", err)
	}
	pulled, err := crane.Pull(ref, opts...)
	if err != nil {
		t.Fatalf("crane pull through keyport: %v", err)
	}
	want, _ := img.Digest()
	if got, _ := pulled.Digest(); got != want {
		t.Fatalf("pulled %s, pushed %s", got, want)
	}

	store(t, env, host, "keyport", "not-the-password")
	if _, err := crane.Digest(ref, opts...); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("wrong credential: err = %v, want the registry's refusal", err)
	}
}

// TestKeychainAdapter resolves through credhelper.Keychain in-process: the
// same stores and normalisation as the helper, no subprocess.
func TestKeychainAdapter(t *testing.T) {
	host, tr, pw := registryFromEnv(t)
	home := t.TempDir()
	r, err := backends.Open(context.Background(), credhelper.Config{Home: home, Backend: "file"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Put(context.Background(), credhelper.Credentials{ServerURL: "https://" + host + "/", Username: "keyport", Secret: pw}); err != nil {
		t.Fatal(err)
	}
	kc := ggcr.Keychain(r)
	if _, err := crane.Digest(host+"/"+os.Getenv("KEYPORT_TEST_IMAGE"), crane.WithAuthFromKeychain(kc), crane.WithTransport(tr)); err != nil {
		t.Fatalf("crane with credhelper.Keychain: %v", err)
	}
	// Nothing saved for another registry: anonymous, not an error.
	auth, err := kc.Resolve(mustRegistry(t, "quay.io"))
	if err != nil || auth != authn.Anonymous {
		t.Fatalf("unknown registry: %v, %v; want anonymous", auth, err)
	}
}

func mustRegistry(t *testing.T, host string) authn.Resource {
	t.Helper()
	reg, err := name.NewRegistry(host)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// store saves a credential through the protocol, as docker login would.
func store(t *testing.T, env []string, host, user, secret string) {
	t.Helper()
	if err := client.Store(program(env), &credentials.Credentials{ServerURL: host, Username: user, Secret: secret}); err != nil {
		t.Fatal(err)
	}
}
