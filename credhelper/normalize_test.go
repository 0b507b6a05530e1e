package credhelper

import (
	"reflect"
	"strings"
	"testing"
)

func TestNormalizeServerURL(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		// Docker Hub: every alias and docker's legacy key are one registry.
		{"https://index.docker.io/v1/", "docker.io"},
		{"index.docker.io", "docker.io"},
		{"docker.io", "docker.io"},
		{"registry-1.docker.io", "docker.io"},
		{"registry.hub.docker.com", "docker.io"},
		{"https://registry-1.docker.io/v2/", "docker.io"},
		{"HTTPS://Index.Docker.IO/v1/", "docker.io"},
		{"https://index.docker.io:443/v1/", "docker.io"},
		{"docker.io/library/nginx", "docker.io/library/nginx"},
		{"index.docker.io/acme/app", "docker.io/acme/app"},
		// docker's OAuth token keys stay distinct.
		{"https://index.docker.io/v1/access-token", "docker.io/v1/access-token"},
		{"https://index.docker.io/v1/refresh-token", "docker.io/v1/refresh-token"},
		// Scheme, default port, trailing slash, case.
		{"https://ghcr.io", "ghcr.io"},
		{"https://ghcr.io:443/", "ghcr.io"},
		{"http://ghcr.io:80", "ghcr.io"},
		{"GHCR.IO", "ghcr.io"},
		{"ghcr.io.", "ghcr.io"},
		{"  ghcr.io\n", "ghcr.io"},
		{"https://ghcr.io/v2/", "ghcr.io"},
		// Ports other than the default are part of the registry.
		{"localhost:5000", "localhost:5000"},
		{"https://localhost:5000/", "localhost:5000"},
		{"127.0.0.1:5000", "127.0.0.1:5000"},
		{"ghcr.io:80", "ghcr.io:80"},
		{"[::1]:5000", "[::1]:5000"},
		{"docker.io:5000", "docker.io:5000"},
		// Namespaces (go-containerregistry asks host/repo first).
		{"ghcr.io/Acme/App", "ghcr.io/acme/app"},
		{"ghcr.io//acme///app/", "ghcr.io/acme/app"},
		{"europe-west1-docker.pkg.dev/proj/repo", "europe-west1-docker.pkg.dev/proj/repo"},
		{"registry.gitlab.com/group/sub_group/my.app", "registry.gitlab.com/group/sub_group/my.app"},
	}
	for _, tt := range tests {
		got, err := NormalizeServerURL(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeServerURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		// Idempotent: a key normalises to itself.
		if again, err := NormalizeServerURL(got); err != nil || again != got {
			t.Errorf("NormalizeServerURL(%q) = %q, %v; not idempotent", got, again, err)
		}
	}
}

func TestNormalizeServerURLRejects(t *testing.T) {
	tests := []struct {
		in, reason string
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"https://user:hunter2@ghcr.io", "username or password"},
		{"user:hunter2@ghcr.io", "username or password"},
		{"ftp://ghcr.io", "scheme"},
		{"ghcr.io/../etc/passwd", ".."},
		{"ghcr.io/./x", ".."},
		{"ghcr.io?x=1", "query"},
		{"ghcr.io#frag", "query"},
		{"ghcr.io/acme/app:latest", "tag or digest"},
		{"ghcr.io/acme/app@sha256:abc", "tag or digest"},
		{"gh cr.io", "whitespace"},
		{"ghcr.io\x00evil", "control"},
		{"ghcr.io\r\nX-Injected: 1", "whitespace"},
		{"régistry.example", "non-ASCII"},
		{"localhost:0", "port"},
		{"localhost:99999", "port"},
		{"localhost:http", "port"},
		{"-bad.example", "host name"},
		{"bad_host.example", "host name"},
		{"a..b", "host name"},
		{"[::1", "IPv6"},
		{"ghcr.io/ACME$", "path segments"},
		{strings.Repeat("a", 2000), "longer than"},
	}
	for _, tt := range tests {
		_, err := NormalizeServerURL(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("NormalizeServerURL(%q) err = %v; want it to mention %q", tt.in, err, tt.reason)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error for %q echoes the password: %v", tt.in, err)
		}
	}
}

func TestLookupKeys(t *testing.T) {
	tests := map[string][]string{
		"ghcr.io":                    {"ghcr.io"},
		"ghcr.io/acme/app":           {"ghcr.io/acme/app", "ghcr.io/acme", "ghcr.io"},
		"localhost:5000/team":        {"localhost:5000/team", "localhost:5000"},
		"docker.io/v1/access-token":  {"docker.io/v1/access-token"},
		"docker.io/v1/refresh-token": {"docker.io/v1/refresh-token"},
		"docker.io/library/nginx":    {"docker.io/library/nginx", "docker.io/library", "docker.io"},
	}
	for in, want := range tests {
		if got := LookupKeys(in); !reflect.DeepEqual(got, want) {
			t.Errorf("LookupKeys(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzNormalizeServerURL(f *testing.F) {
	for _, s := range []string{"https://index.docker.io/v1/", "ghcr.io/acme/app", "[::1]:5000", "localhost:5000/x", "http://A.B:80/v2/", "docker.io/v1/access-token"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		key, err := NormalizeServerURL(in)
		if err != nil {
			if strings.Contains(in, "@") && strings.Contains(err.Error(), in) {
				t.Fatalf("error echoes input with userinfo: %v", err)
			}
			return
		}
		again, err := NormalizeServerURL(key)
		if err != nil || again != key {
			t.Fatalf("not idempotent: %q → %q → %q, %v", in, key, again, err)
		}
		if DisplayServerURL(key) != key {
			if back, _ := NormalizeServerURL(DisplayServerURL(key)); back != key {
				t.Fatalf("display form %q does not normalise back to %q", DisplayServerURL(key), key)
			}
		}
		keys := LookupKeys(key)
		if keys[0] != key || Host(keys[len(keys)-1]) != keys[len(keys)-1] && !isDockerTokenKey(key) {
			t.Fatalf("LookupKeys(%q) = %v", key, keys)
		}
	})
}

func BenchmarkNormalizeServerURL(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NormalizeServerURL("https://index.docker.io/v1/"); err != nil {
			b.Fatal(err)
		}
	}
}
