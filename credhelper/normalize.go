package credhelper

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DockerHub is the canonical key of Docker Hub, whatever alias a client used.
const DockerHub = "docker.io"

// DockerHubLegacyURL is the key docker itself sends for Docker Hub; `list`
// answers with it so docker finds the Hub entry where it expects it.
const DockerHubLegacyURL = "https://index.docker.io/v1/"

var dockerHubAliases = map[string]bool{
	"docker.io":               true,
	"index.docker.io":         true,
	"registry-1.docker.io":    true,
	"registry.hub.docker.com": true,
}

// maxServerURL bounds the key length; real registry keys are far shorter.
const maxServerURL = 1024

// InvalidServerURLError says why a server string cannot name a registry.
// It quotes the input only when the input cannot carry a password.
type InvalidServerURLError struct {
	Input  string
	Reason string
}

func (e *InvalidServerURLError) Error() string {
	if e.Input == "" {
		return "invalid server URL: " + e.Reason
	}
	return fmt.Sprintf("invalid server URL %q: %s", e.Input, e.Reason)
}

// NormalizeServerURL folds every form a client sends for one registry into one
// canonical key: host[:port][/namespace...], lower case, without scheme,
// default port, trailing slash or API-version path, with Docker Hub's aliases
// and docker's "https://index.docker.io/v1/" all becoming "docker.io".
// Docker's OAuth keys (…/v1/access-token, …/v1/refresh-token) stay distinct.
//
// It is the only place keys are made; stores only ever see its output.
func NormalizeServerURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	bad := func(reason string) error {
		quoted := s
		if strings.Contains(s, "@") || len(s) > 256 || !utf8.ValidString(s) {
			quoted = "" // may hold a password, or is too odd to echo
		}
		return &InvalidServerURLError{Input: quoted, Reason: reason}
	}
	switch {
	case s == "":
		return "", &InvalidServerURLError{Reason: "empty"}
	case len(s) > maxServerURL:
		return "", bad(fmt.Sprintf("longer than %d bytes", maxServerURL))
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r > 0x7e {
			return "", bad("contains whitespace, control or non-ASCII characters (use the punycode form of a host)")
		}
	}
	if strings.ContainsAny(s, "?#") {
		return "", bad("must not have a query or fragment")
	}

	scheme := ""
	if i := strings.Index(s, "://"); i >= 0 {
		scheme = strings.ToLower(s[:i])
		if scheme != "https" && scheme != "http" {
			return "", bad("scheme must be https or http")
		}
		s = s[i+3:]
	}
	hostport, path, _ := strings.Cut(s, "/")
	if strings.Contains(hostport, "@") {
		return "", bad("must not contain a username or password")
	}
	host, port, err := splitHostPort(strings.ToLower(hostport))
	if err != nil {
		return "", bad(err.Error())
	}
	if port == "443" || (port == "80" && scheme == "http") {
		port = ""
	}
	if dockerHubAliases[host] && port == "" {
		host = DockerHub
	}

	var segs []string
	for _, seg := range strings.Split(strings.ToLower(path), "/") {
		switch {
		case seg == "":
			continue
		case seg == "." || seg == "..":
			return "", bad("path must not contain . or .. segments")
		case strings.ContainsAny(seg, ":@"):
			return "", bad("must name a registry or repository, not a tag or digest")
		case !validPathSegment(seg):
			return "", bad("path segments may hold only a-z, 0-9, '.', '_' and '-'")
		}
		segs = append(segs, seg)
	}
	// "/v1/" and "/v2/" name the API, not a namespace.
	if len(segs) == 1 && (segs[0] == "v1" || segs[0] == "v2") {
		segs = nil
	}

	key := host
	if port != "" {
		key += ":" + port
	}
	if len(segs) > 0 {
		key += "/" + strings.Join(segs, "/")
	}
	return key, nil
}

// LookupKeys lists the keys that may answer for a canonical key, most
// specific first: "ghcr.io/org/app" → ghcr.io/org/app, ghcr.io/org, ghcr.io.
// Docker's OAuth token keys answer only for themselves.
func LookupKeys(key string) []string {
	if isDockerTokenKey(key) {
		return []string{key}
	}
	keys := []string{key}
	for {
		i := strings.LastIndexByte(key, '/')
		if i < 0 {
			return keys
		}
		key = key[:i]
		keys = append(keys, key)
	}
}

// Host returns the registry part (host[:port]) of a canonical key.
func Host(key string) string {
	host, _, _ := strings.Cut(key, "/")
	return host
}

// DisplayServerURL is the form `list` answers with: docker's own key for
// Docker Hub, the canonical key for everything else.
func DisplayServerURL(key string) string {
	if key == DockerHub {
		return DockerHubLegacyURL
	}
	return key
}

func isDockerTokenKey(key string) bool {
	return key == DockerHub+"/v1/access-token" || key == DockerHub+"/v1/refresh-token"
}

func splitHostPort(hp string) (host, port string, err error) {
	if strings.HasPrefix(hp, "[") { // IPv6 literal
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return "", "", fmt.Errorf("unclosed IPv6 address")
		}
		host, rest := hp[:end+1], hp[end+1:]
		if len(host) < 3 || strings.Trim(host[1:end], "0123456789abcdef:.") != "" {
			return "", "", fmt.Errorf("invalid IPv6 address")
		}
		if rest == "" {
			return host, "", nil
		}
		if rest[0] != ':' {
			return "", "", fmt.Errorf("unexpected text after IPv6 address")
		}
		port, err := validPort(rest[1:])
		return host, port, err
	}
	host, port, hasPort := strings.Cut(hp, ":")
	if hasPort {
		if port, err = validPort(port); err != nil {
			return "", "", err
		}
	}
	host = strings.TrimSuffix(host, ".")
	if !validHostname(host) {
		return "", "", fmt.Errorf("not a valid registry host name")
	}
	return host, port, nil
}

func validPort(p string) (string, error) {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || p[0] == '0' || p[0] == '+' {
		return "", fmt.Errorf("port must be a number from 1 to 65535")
	}
	return p, nil
}

// validHostname follows the domain grammar of docker image references:
// dot-separated labels of letters and digits, with inner hyphens.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func validPathSegment(seg string) bool {
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
