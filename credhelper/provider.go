package credhelper

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Provider names the kind of registry a credential belongs to. The names are
// the account API's.
type Provider string

const (
	ProviderDockerHub Provider = "dockerhub"
	ProviderGCR       Provider = "gcr"
	ProviderGAR       Provider = "gar"
	ProviderGitHub    Provider = "github"
	ProviderGitLab    Provider = "gitlab"
	ProviderECR       Provider = "ecr"
	ProviderACR       Provider = "acr"
	ProviderCustom    Provider = "custom"
)

// KeyfileUser is the username registries of Google Cloud expect when the
// secret is a service-account JSON keyfile.
const KeyfileUser = "_json_key"

var gcrHosts = map[string]bool{"gcr.io": true, "eu.gcr.io": true, "us.gcr.io": true, "asia.gcr.io": true}

// DetectProvider infers the provider from a canonical key's host. Hosts it
// does not recognise (including self-hosted GitLab) are "custom".
func DetectProvider(key string) Provider {
	host := Host(key)
	switch {
	case host == DockerHub:
		return ProviderDockerHub
	case gcrHosts[host]:
		return ProviderGCR
	case strings.HasSuffix(host, "-docker.pkg.dev"):
		return ProviderGAR
	case host == "ghcr.io":
		return ProviderGitHub
	case host == "registry.gitlab.com":
		return ProviderGitLab
	case strings.HasSuffix(host, ".amazonaws.com") && strings.Contains(host, ".dkr.ecr."):
		return ProviderECR
	case strings.HasSuffix(host, ".azurecr.io"):
		return ProviderACR
	}
	return ProviderCustom
}

// DefaultRegistry is the registry a provider implies when none is given, or
// "" when the provider needs one spelled out.
func (p Provider) DefaultRegistry() string {
	switch p {
	case ProviderDockerHub:
		return DockerHub
	case ProviderGCR:
		return "gcr.io"
	case ProviderGitHub:
		return "ghcr.io"
	case ProviderGitLab:
		return "registry.gitlab.com"
	}
	return ""
}

// ServiceAccountKey is the part of a Google service-account keyfile that
// identifies it; the whole file is the secret.
type ServiceAccountKey struct {
	Type        string `json:"type"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
	ProjectID   string `json:"project_id"`
}

// ErrInvalidKeyfile is wrapped by every keyfile validation failure.
var ErrInvalidKeyfile = errors.New("not a Google service-account JSON keyfile")

// ParseKeyfile validates a service-account keyfile and returns it compacted
// (the form registries expect as the password of "_json_key"). Errors never
// quote the file: it holds a private key.
func ParseKeyfile(data []byte) (ServiceAccountKey, string, error) {
	var k ServiceAccountKey
	if err := json.Unmarshal(data, &k); err != nil {
		return k, "", fmt.Errorf("%w: it is not valid JSON", ErrInvalidKeyfile)
	}
	var missing []string
	if k.Type != "service_account" {
		missing = append(missing, `"type": "service_account"`)
	}
	if k.ClientEmail == "" {
		missing = append(missing, `"client_email"`)
	}
	if !strings.Contains(k.PrivateKey, "PRIVATE KEY") {
		missing = append(missing, `"private_key"`)
	}
	if len(missing) > 0 {
		return k, "", fmt.Errorf("%w: missing %s", ErrInvalidKeyfile, strings.Join(missing, ", "))
	}
	var compact strings.Builder
	var buf json.RawMessage = data
	b, err := json.Marshal(buf) // compacts and validates
	if err != nil {
		return k, "", fmt.Errorf("%w: it is not valid JSON", ErrInvalidKeyfile)
	}
	compact.Write(b)
	return k, compact.String(), nil
}
