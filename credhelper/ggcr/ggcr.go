// Package ggcr exposes keyport's resolver to go-containerregistry: an
// authn.Keychain over the same stores and normalisation the helper uses. It
// lives apart from credhelper so the helper's get path does not link
// go-containerregistry.
package ggcr

import (
	"context"
	"errors"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/keyport/keyport/credhelper"
)

// Keychain adapts a Resolver to go-containerregistry's authn.Keychain, so
// Go programs resolve through the same stores and normalisation as docker.
// Unlike authn.NewKeychainFromHelper it does not turn a broken store into
// anonymous access: only not-found does that.
func Keychain(r *credhelper.Resolver) authn.Keychain { return keychain{r} }

type keychain struct{ r *credhelper.Resolver }

// Resolve implements authn.Keychain.
func (k keychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), res)
}

// ResolveContext implements authn.ContextKeychain.
func (k keychain) ResolveContext(ctx context.Context, res authn.Resource) (authn.Authenticator, error) {
	c, err := k.r.Get(ctx, res.String())
	if errors.Is(err, credhelper.ErrNotFound) {
		return authn.Anonymous, nil
	}
	if err != nil {
		return nil, err
	}
	return Authenticator(c), nil
}

// Authenticator turns a stored credential into go-containerregistry's form;
// "<token>" marks an identity token, as docker writes it.
func Authenticator(c credhelper.Credentials) authn.Authenticator {
	if c.Username == credhelper.IdentityTokenUser {
		return authn.FromConfig(authn.AuthConfig{IdentityToken: c.Secret})
	}
	return authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: c.Secret})
}
