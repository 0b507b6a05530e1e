package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// registryEnv is what scripts/registry.sh exports for the real registries.
var registryEnv = map[string]string{
	"REG":        "KEYPORT_TEST_REGISTRY",
	"REGHTTP":    "KEYPORT_TEST_REGISTRY_HTTP",
	"REGCA":      "KEYPORT_TEST_REGISTRY_CA",
	"REGCERTDIR": "KEYPORT_TEST_REGISTRY_CERT_DIR",
	"REGUSER":    "KEYPORT_TEST_REGISTRY_USER",
	"IMAGE":      "KEYPORT_TEST_IMAGE",
}

// TestScripts runs testdata/script/*.txtar against the built helper, the real
// registries (scripts/registry.sh) and real clients (docker CLI, skopeo).
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		// KEYPORT_UPDATE_SCRIPTS=1 rewrites cmp golden files in the scripts.
		UpdateScripts: os.Getenv("KEYPORT_UPDATE_SCRIPTS") != "",
		Setup: func(env *testscript.Env) error {
			for short, long := range registryEnv {
				v := os.Getenv(long)
				if v == "" {
					return fmt.Errorf("%s is not set: start the registries with scripts/registry.sh (make test does)", long)
				}
				env.Setenv(short, v)
			}
			pw, err := os.ReadFile(os.Getenv("KEYPORT_TEST_REGISTRY_PASSWORD_FILE"))
			if err != nil {
				return fmt.Errorf("registry password: %w", err)
			}
			if err := os.WriteFile(filepath.Join(env.WorkDir, "password.txt"), pw, 0o600); err != nil {
				return err
			}
			env.Setenv("HOME", filepath.Join(env.WorkDir, "home"))
			env.Setenv("KEYPORT_HOME", filepath.Join(env.WorkDir, "keyport"))
			env.Setenv("KEYPORT_BACKEND", "file")
			env.Setenv("DOCKER_CONFIG", filepath.Join(env.WorkDir, "docker"))
			env.Setenv("XDG_RUNTIME_DIR", filepath.Join(env.WorkDir, "run"))
			// The real Secret Service's bus, for scripts that opt into it.
			env.Setenv("KEYRING_BUS", os.Getenv("DBUS_SESSION_BUS_ADDRESS"))
			return nil
		},
	})
}
