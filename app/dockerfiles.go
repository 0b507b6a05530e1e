package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// helperName is what docker and containers call keyport in their configs:
// the suffix of docker-credential-keyport.
const helperName = "keyport"

// dockerConfigPath is docker's config.json: $DOCKER_CONFIG/config.json, else
// ~/.docker/config.json.
func dockerConfigPath() (string, error) {
	if dir := os.Getenv("DOCKER_CONFIG"); dir != "" {
		return filepath.Join(dir, "config.json"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find docker's config: set DOCKER_CONFIG or pass the file: %w", err)
	}
	return filepath.Join(home, ".docker", "config.json"), nil
}

// containersAuthPath is where podman, buildah and skopeo keep auth.json:
// $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json, else
// /run/containers/UID/auth.json (containers-auth.json(5)).
func containersAuthPath() string {
	if f := os.Getenv("REGISTRY_AUTH_FILE"); f != "" {
		return f
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return filepath.Join(dir, "containers", "auth.json")
	}
	return filepath.Join("/run/containers", strconv.Itoa(os.Getuid()), "auth.json")
}
