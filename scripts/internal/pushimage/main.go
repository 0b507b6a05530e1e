// Command pushimage pushes a small, deterministic test image into a registry
// so tests have something to pull, inspect and check. It is a test fixture
// tool used by scripts/registry.sh, not part of keyport.
//
//	go run ./scripts/internal/pushimage --registry 127.0.0.1:5000 --ca ca.crt \
//	    --user keyport --password-file pw --repo keyport/test:latest
//
// The password is read from a file so it never appears on argv. The image
// content comes from a fixed seed: every push produces the same digest, which
// is printed on stdout.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

type options struct {
	registry, ca, user, passwordFile, repo string
	plainHTTP                              bool
}

func main() {
	var o options
	flag.StringVar(&o.registry, "registry", "", "registry host:port")
	flag.StringVar(&o.ca, "ca", "", "PEM file of the CA that signed the registry's certificate")
	flag.StringVar(&o.user, "user", "", "registry user name")
	flag.StringVar(&o.passwordFile, "password-file", "", "file holding the password")
	flag.StringVar(&o.repo, "repo", "keyport/test:latest", "repository:tag to push")
	flag.BoolVar(&o.plainHTTP, "plain-http", false, "the registry speaks plain HTTP")
	flag.Parse()
	digest, err := push(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pushimage:", err)
		os.Exit(1)
	}
	fmt.Println(digest)
}

func push(o options) (string, error) {
	if o.registry == "" {
		return "", errors.New("--registry is required")
	}
	var nameOpts []name.Option
	if o.plainHTTP {
		nameOpts = append(nameOpts, name.Insecure)
	}
	ref, err := name.ParseReference(o.registry+"/"+o.repo, nameOpts...)
	if err != nil {
		return "", fmt.Errorf("image reference: %w", err)
	}
	auth, err := authenticator(o)
	if err != nil {
		return "", err
	}
	tr, err := transport(o.ca)
	if err != nil {
		return "", err
	}
	img, err := random.Image(1024, 1, random.WithSource(rand.NewSource(1)))
	if err != nil {
		return "", fmt.Errorf("building the image: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := remote.Write(ref, img, remote.WithAuth(auth), remote.WithTransport(tr), remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("image digest: %w", err)
	}
	return digest.String(), nil
}

func authenticator(o options) (authn.Authenticator, error) {
	if o.user == "" {
		return authn.Anonymous, nil
	}
	pw, err := os.ReadFile(o.passwordFile)
	if err != nil {
		return nil, fmt.Errorf("reading the password: %w", err)
	}
	return &authn.Basic{Username: o.user, Password: strings.TrimRight(string(pw), "\r\n")}, nil
}

// transport trusts caFile in addition to the system roots, so a test
// registry's self-signed certificate is verified rather than ignored.
func transport(caFile string) (http.RoundTripper, error) {
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	if caFile == "" {
		return tr, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading the CA: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return tr, nil
}
